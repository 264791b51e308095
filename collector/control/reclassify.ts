// The collector's verdict on a probe's measurement: classified again with the control's evidence, beside the probe's own.
import { classify } from '../../probe/classify/classify.js';
import type { Measurement } from '../../contract/measurement.js';
import type { Target } from '../../contract/target.js';
import { isBlocked, type Decision } from '../../contract/verdict.js';
import type { CollectorJudgement } from '../storage/archive.js';
import type { ControlIndex, ControlRef } from './nearest.js';

export interface CollectorVerdict {
  /** The verdict aggregates, series, events and reports use. */
  verdict: Decision;
  /** The control measurement it was judged with; null when none was within the window (the probe's verdict stands). */
  control_id: string | null;
}

/**
 * The measurement judged again with `control` (the nearest usable control of its target): a failure
 * the control shares becomes `down`. An `offline` verdict stays (the probe's canaries decided it over
 * the whole run); without a control, or for a target the collector does not know, the probe's verdict
 * stands.
 */
export function reclassify(m: Measurement, target: Target | undefined, control: ControlRef | null): CollectorVerdict {
  if (target === undefined || control === null || m.verdict.verdict === 'offline') return { verdict: m.verdict, control_id: null };
  return { verdict: classify(target, m.evidence, { control: control.evidence }), control_id: control.id };
}

/** The collector's judgement of incoming measurements: each with the nearest usable control of its target, when there is one. */
export class ControlJudge {
  constructor(
    private readonly index: ControlIndex,
    private readonly targets: ReadonlyMap<string, Target>,
    /** Told of a blocked measurement no control of the last `freshMs` judged (the prober measures the target soon). */
    private readonly onUnjudgedBlock: (targetId: string) => void = () => {},
    private readonly freshMs = Infinity,
  ) {}

  /** Measurements judged with a control so far. */
  judged = 0;

  /** The collector's verdict and the control's id, or null when no control judged the measurement (the probe's verdict stands). */
  judge(m: Measurement): CollectorJudgement | null {
    if (m.verdict.verdict === 'offline') return null;
    const at = Date.parse(m.started_at);
    const control = this.index.size === 0 ? null : this.index.nearest(m.target.id, at);
    // A new failure with no control of about that time: the control measures the target now, so that the next measurements are judged.
    if (isBlocked(m.verdict.verdict) && (control === null || Math.abs(control.at - at) > this.freshMs)) this.onUnjudgedBlock(m.target.id);
    const r = reclassify(m, this.targets.get(m.target.id), control);
    if (r.control_id === null) return null;
    this.judged++;
    return { verdict: r.verdict, control_id: r.control_id };
  }
}
