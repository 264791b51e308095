// One measuring run over a list of targets: measure all concurrently, classify, apply the canary rule.
import { setMaxListeners } from 'node:events';
import { applyCanaries } from '../classify/canary.js';
import { classify } from '../classify/classify.js';
import { baselineOf } from '../classify/throttle.js';
import type { ResolverSpec } from '../measure/dns.js';
import { systemResolverLabel } from '../../contract/evidence.js';
import type { Deps } from '../deps.js';
import { MEASUREMENT_SCHEMA, type Measurement } from '../../contract/measurement.js';
import type { Target } from '../../contract/target.js';
import type { Decision } from '../../contract/verdict.js';
import { ulid } from '../ulid.js';
import { RunLimits } from './limits.js';
import { ENGINE_DEFAULTS, type EngineOptions } from './options.js';
import { measureTarget, type TargetEvidence } from './target-run.js';

interface Done {
  target: Target;
  startedAt: number;
  runtime: number;
  result: TargetEvidence;
  /** The target's own verdict, before the canary rule. */
  decision: Decision;
}

/**
 * Measure every target once. Resolves with one measurement per target, in the order given.
 * Rejects only when `options.signal` aborts (after every socket is closed) or on a programming fault.
 */
export async function runTargets(targets: Target[], options: EngineOptions, deps: Deps): Promise<Measurement[]> {
  // Every step in flight listens on the run's signal: hundreds at once are expected, not a leak.
  if (options.signal) setMaxListeners(0, options.signal);
  const limits = new RunLimits(options.concurrency, options.perHostConcurrency, {
    concurrency: options.handshakeConcurrency ?? ENGINE_DEFAULTS.handshakeConcurrency,
    holdMs: ENGINE_DEFAULTS.handshakeHoldMs,
  }, { holdMs: ENGINE_DEFAULTS.connectHoldMs, maxOpen: options.concurrency * ENGINE_DEFAULTS.openConnectsPerSlot });
  // The system's resolvers are asked directly too (named by their place in resolv.conf, not by address).
  const asksSystem = options.resolvers.some((r) => r.kind === 'system');
  const nameservers = asksSystem && deps.network.systemResolvers !== undefined ? await deps.network.systemResolvers() : [];
  const measuring: EngineOptions = {
    ...options,
    resolvers: [
      ...options.resolvers,
      ...nameservers.map((n, i): ResolverSpec => ({ kind: 'udp', address: n.address, port: n.port, label: systemResolverLabel(i) })),
    ],
  };
  const total = targets.length;
  let started = 0;
  let done = 0;

  const settled = await Promise.allSettled(
    targets.map(async (target): Promise<Done> => {
      const startedAt = deps.clock.now();
      const t0 = deps.clock.monotonic();
      options.onProgress?.({ type: 'target-start', target, started: ++started, total });
      const result = await measureTarget(target, measuring, deps, limits);
      const runtime = deps.clock.monotonic() - t0;
      const decision = classify(target, result.evidence, { throttle: options.throttle });
      done++;
      options.onProgress?.({ type: 'target-done', target, decision, done, total });
      return { target, startedAt, runtime, result, decision };
    }),
  );
  // Wait for every target before failing, so that an abort leaves no step still holding a socket.
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const results = settled.map((s) => (s as PromiseFulfilledResult<Done>).value);

  // Throttling is judged against the international canaries of the same run: their figures go into
  // every other target's evidence (so that the measurement alone supports the verdict), and the
  // target is judged again with them.
  const canaries = results.filter((r) => r.target.category === 'canary').map((r) => ({ target: r.target, evidence: r.result.evidence }));
  if (canaries.some((c) => c.target.canary === 'international')) {
    const baseline = baselineOf(canaries);
    for (const r of results) {
      if (r.target.category === 'canary') continue;
      r.result.evidence.baseline = baseline;
      r.decision = classify(r.target, r.result.evidence, { throttle: options.throttle });
    }
  }
  const decisions = applyCanaries(results.map((r) => ({ target: r.target, evidence: r.result.evidence, decision: r.decision })));

  return results.map((r, i): Measurement => ({
    schema: MEASUREMENT_SCHEMA,
    id: ulid(Math.floor(r.startedAt)),
    probe: options.probe,
    target: { id: r.target.id, category: r.target.category },
    started_at: new Date(r.startedAt).toISOString(),
    runtime_ms: Math.round(r.runtime),
    evidence: r.result.evidence,
    timing: r.result.timing,
    verdict: decisions[i]!,
  }));
}
