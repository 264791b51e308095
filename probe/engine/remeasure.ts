// The run's second phase: targets that failed in a way packet loss can fake are measured again before the run is judged.
import { assessLine, isLossProne, type LineRun } from '../classify/line.js';
import type { Evidence, FirstAttempt, LineQuality } from '../../contract/evidence.js';
import { isBlocked, type Decision } from '../../contract/verdict.js';

/** A measured target with the decision it was classified with as it was measured. */
export interface FirstPass extends LineRun {
  decision: Decision;
}

/**
 * Which targets to measure again (indexes into `runs`): when the run shows packet loss (exchanges
 * that worked only after a retransmission), every target whose verdict is a block loss can fake (a
 * timeout, an inconsistent answer), canaries included. On a line that shows no loss nothing is
 * measured again: loss that fails a target shows elsewhere in the run too, and a censor's block
 * (or a shutdown) measured twice would only take twice as long.
 */
export function toRemeasure(runs: ReadonlyArray<FirstPass>, line: LineQuality = assessLine(runs)): number[] {
  if (line.loss === 'none') return [];
  const out: number[] = [];
  runs.forEach((r, i) => {
    if (isBlocked(r.decision.verdict) && isLossProne(r.decision)) out.push(i);
  });
  return out;
}

/** The evidence of a target measured twice: the second attempt, with the first beside it. */
export function withFirstAttempt(first: Evidence, second: Evidence): Evidence {
  const kept: FirstAttempt = { dns: first.dns, tcp: first.tcp, tls: first.tls, http: first.http, ...(first.bulk !== undefined ? { bulk: first.bulk } : {}) };
  return { ...second, first: kept };
}
