// One measuring run over a list of targets: measure all concurrently, classify, apply the canary rule.
import { setMaxListeners } from 'node:events';
import { applyCanaries } from '../classify/canary.js';
import { assessLine } from '../classify/line.js';
import { classify } from '../classify/classify.js';
import { baselineOf } from '../classify/throttle.js';
import type { ResolverSpec } from '../measure/dns.js';
import { systemResolverLabel } from '../../contract/evidence.js';
import type { Deps } from '../deps.js';
import { MEASUREMENT_SCHEMA, type Measurement } from '../../contract/measurement.js';
import type { Target } from '../../contract/target.js';
import { isBlocked, type Decision } from '../../contract/verdict.js';
import { conf, CONFIDENCE } from '../classify/confidence.js';
import { ulid } from '../ulid.js';
import { RunLimits } from './limits.js';
import { ENGINE_DEFAULTS, type EngineOptions } from './options.js';
import { toRemeasure, withFirstAttempt } from './remeasure.js';
import { measureTarget, type TargetEvidence } from './target-run.js';

/**
 * One target measured, before it is judged with the rest of its run: plain data (a daemon journals it,
 * so that a run cut short by a crash can still be judged from what it measured).
 */
export interface MeasuredTarget {
  /** The measurement's id, chosen when the target was measured (judging again gives the same id). */
  id: string;
  target: Target;
  startedAt: number;
  runtime: number;
  result: TargetEvidence;
}

interface Done extends MeasuredTarget {
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
      const measured: MeasuredTarget = { id: ulid(Math.floor(startedAt)), target, startedAt, runtime, result };
      await options.onMeasured?.(measured);
      const decision = classify(target, result.evidence, { throttle: options.throttle });
      done++;
      options.onProgress?.({ type: 'target-done', target, decision, done, total });
      return { ...measured, decision };
    }),
  );
  // Wait for every target before failing, so that an abort leaves no step still holding a socket.
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const firstPass = settled.map((s) => (s as PromiseFulfilledResult<Done>).value);
  await remeasure(firstPass, measuring, deps, limits);
  return judgeRun(firstPass, options);
}

/**
 * Measure again, all at once, the targets of the first pass that failed in a way packet loss can
 * fake (see toRemeasure); each keeps its id and start, its evidence becomes the second attempt with
 * the first beside it. Bulk reads are not repeated (throttling is not judged twice).
 */
async function remeasure(firstPass: Done[], options: EngineOptions, deps: Deps, limits: RunLimits): Promise<void> {
  const picked = toRemeasure(firstPass.map((d) => ({ target: d.target, evidence: d.result.evidence, decision: d.decision })));
  if (picked.length === 0) return;
  options.onProgress?.({ type: 'remeasure', targets: picked.map((i) => firstPass[i]!.target) });
  const again: EngineOptions = { ...options, bulk: { ...options.bulk, enabled: false } };
  const settled = await Promise.allSettled(
    picked.map(async (i) => {
      const d = firstPass[i]!;
      const t0 = deps.clock.monotonic();
      const second = await measureTarget(d.target, again, deps, limits);
      d.runtime += deps.clock.monotonic() - t0;
      d.result = { evidence: withFirstAttempt(d.result.evidence, second.evidence), timing: second.timing };
      d.decision = classify(d.target, d.result.evidence, { throttle: options.throttle });
      await options.onMeasured?.({ id: d.id, target: d.target, startedAt: d.startedAt, runtime: d.runtime, result: d.result });
    }),
  );
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Judge a run's measured targets together: each classified (unless it carries its decision), the throttling baseline of its canaries
 * added, the canary rule applied. `cutShort`: the run ended before all its targets were measured (a
 * crash); without an international canary among them nothing can tell a block from the volunteer's
 * own line, so a blocked verdict becomes inconclusive.
 */
export function judgeRun(
  measured: ReadonlyArray<MeasuredTarget & { decision?: Decision }>,
  options: Pick<EngineOptions, 'probe' | 'throttle' | 'controls'>,
  cutShort = false,
): Measurement[] {
  const judge = (m: MeasuredTarget): Decision => judgeTarget(m, options);
  // A target classified as it was measured (for the progress display) is not classified again
  // unless what the whole run showed, or the control's evidence, changes its judgement.
  const results: Done[] = measured.map((m) => ({ ...m, decision: m.decision !== undefined && options.controls === undefined ? m.decision : judge(m) }));
  // The line as the whole run showed it (packet loss, a portal) goes into every target's evidence, so
  // that the measurement alone supports its verdict; on a lossy line, blocks loss can fake are tempered.
  const line = assessLine(results.map((r) => ({ target: r.target, evidence: r.result.evidence })));
  const tempered = line.loss !== 'none';
  for (const r of results) {
    r.result.evidence.line = line;
    if (tempered) r.decision = judge(r);
  }
  // Throttling is judged against the international canaries of the same run: their figures go into
  // every other target's evidence (so that the measurement alone supports the verdict), and the
  // target is judged again with them.
  const canaries = results.filter((r) => r.target.category === 'canary').map((r) => ({ target: r.target, evidence: r.result.evidence }));
  if (canaries.some((c) => c.target.canary === 'international')) {
    const baseline = baselineOf(canaries);
    for (const r of results) {
      if (r.target.category === 'canary') continue;
      r.result.evidence.baseline = baseline;
      r.decision = judge(r);
    }
  }
  let decisions = applyCanaries(results.map((r) => ({ target: r.target, evidence: r.result.evidence, decision: r.decision })));
  if (cutShort && !results.some((r) => r.target.canary === 'international')) decisions = decisions.map(withoutCanaries);

  return results.map((r, i): Measurement => ({
    schema: MEASUREMENT_SCHEMA,
    id: r.id,
    probe: options.probe,
    target: { id: r.target.id, category: r.target.category },
    started_at: new Date(r.startedAt).toISOString(),
    runtime_ms: Math.round(r.runtime),
    evidence: r.result.evidence,
    timing: r.result.timing,
    verdict: decisions[i]!,
  }));
}

/**
 * One target's decision: with the control's evidence when the collector had one close enough in time
 * (a failure the control shares is `down`); without one, when a control was expected, a block keeps
 * its verdict with a lower confidence and says the control was missing. Canaries are judged alone.
 */
function judgeTarget(m: MeasuredTarget, options: Pick<EngineOptions, 'throttle' | 'controls'>): Decision {
  const base = { throttle: options.throttle };
  const set = options.controls;
  if (set === undefined || m.target.category === 'canary') return classify(m.target, m.result.evidence, base);
  const control = set.byTarget.get(m.target.id);
  if (control !== undefined && Math.abs(m.startedAt - control.at) <= set.maxAgeMs) {
    try {
      return classify(m.target, m.result.evidence, { ...base, control: control.evidence });
    } catch {
      // Control evidence the classifier cannot read is no control: judged without it below.
    }
  }
  const d = classify(m.target, m.result.evidence, base);
  if (!isBlocked(d.verdict)) return d;
  const why =
    set.missing ??
    (control === undefined ? 'the collector had no control of this target' : `the collector's control was ${Math.round(Math.abs(m.startedAt - control.at) / 60_000)} min away`);
  return {
    ...d,
    confidence: conf(d.confidence * CONFIDENCE.noControlFactor),
    reason: `${d.reason}; no control evidence (${why}): a site down everywhere would look the same`,
  };
}

/** A blocked verdict of a run cut short before its international canary was measured: inconclusive, saying why. */
function withoutCanaries(d: Decision): Decision {
  if (!isBlocked(d.verdict)) return d;
  return {
    verdict: 'inconclusive',
    layer: null,
    confidence: CONFIDENCE.inconclusive,
    reason: `the run was cut short before its international canary was measured, so a block cannot be told from the probe's own line; the target's own finding was ${d.verdict}: ${d.reason}`,
    subjects: d.subjects,
  };
}
