// One measuring run over a list of targets: measure all concurrently, classify, apply the canary rule.
import { setMaxListeners } from 'node:events';
import { applyCanaries } from '../classify/canary.js';
import { classify } from '../classify/classify.js';
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
  });
  const total = targets.length;
  let started = 0;
  let done = 0;

  const settled = await Promise.allSettled(
    targets.map(async (target): Promise<Done> => {
      const startedAt = deps.clock.now();
      const t0 = deps.clock.monotonic();
      options.onProgress?.({ type: 'target-start', target, started: ++started, total });
      const result = await measureTarget(target, options, deps, limits);
      const runtime = deps.clock.monotonic() - t0;
      const decision = classify(target, result.evidence);
      done++;
      options.onProgress?.({ type: 'target-done', target, decision, done, total });
      return { target, startedAt, runtime, result, decision };
    }),
  );
  // Wait for every target before failing, so that an abort leaves no step still holding a socket.
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const results = settled.map((s) => (s as PromiseFulfilledResult<Done>).value);

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
