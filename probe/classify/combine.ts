// Combines the findings and gaps of a target's subjects into one Decision: the strongest finding wins.
import type { Decision, Layer } from '../../contract/verdict.js';
import { shortList, unique } from './address.js';
import { CONFIDENCE } from './confidence.js';
import { rankOf } from '../../contract/verdict.js';
import type { Finding, Gap } from './finding.js';

export interface Passed {
  /** Subjects with a working path through every measured layer, in target order. */
  subjects: string[];
  /** The layers that were judged. */
  layers: Layer[];
}

/**
 * The decision for a target: the best-ranked finding (earliest layer first, see VERDICT_RANK),
 * listing every subject that showed the same verdict; with no finding, `inconclusive` when some
 * subject could not be judged, else `ok`.
 */
export function combine(findings: readonly Finding[], gaps: readonly Gap[], passed: Passed): Decision {
  // A finding about a whole domain or endpoint outweighs one about some addresses of a domain whose others worked.
  const whole = findings.filter((f) => f.addresses === undefined);
  const pool = whole.length > 0 ? whole : findings;
  if (pool.length > 0) {
    const best = Math.min(...pool.map((f) => rankOf(f.verdict)));
    const group = pool.filter((f) => rankOf(f.verdict) === best);
    // Highest confidence first; stable, so target order breaks ties.
    const top = [...group].sort((a, b) => b.confidence - a.confidence)[0] as Finding;
    const failing = unique(group.map((f) => f.subject));
    const others = failing.filter((s) => s !== top.subject);
    const decision: Decision = {
      verdict: top.verdict,
      layer: top.layer,
      confidence: top.confidence,
      reason: others.length > 0 ? `${top.reason}; the same for ${shortList(others)}` : top.reason,
      subjects: failing,
    };
    if (whole.length === 0) {
      // Only some addresses failed: the subjects are those addresses, the working ones beside them.
      decision.subjects = unique(group.flatMap((f) => f.addresses?.failing ?? []));
      decision.scope = 'partial';
      decision.working = unique(group.flatMap((f) => f.addresses?.working ?? []));
      return decision;
    }
    // Throttling is a degradation of what works: it has no scope of its own.
    const working = passed.subjects.filter((s) => !failing.includes(s));
    if (top.verdict !== 'http.throttled' && working.length > 0) {
      decision.scope = 'partial';
      decision.working = working;
    }
    return decision;
  }
  if (gaps.length > 0) {
    const first = gaps[0] as Gap;
    return {
      verdict: 'inconclusive',
      layer: null,
      confidence: CONFIDENCE.inconclusive,
      reason: gaps.length > 1 ? `${first.reason}; ${gaps.length - 1} more without a verdict` : first.reason,
      subjects: unique(gaps.map((g) => g.subject)),
    };
  }
  if (passed.subjects.length === 0) {
    return { verdict: 'inconclusive', layer: null, confidence: CONFIDENCE.inconclusive, reason: 'nothing was judged', subjects: [] };
  }
  return {
    verdict: 'ok',
    layer: null,
    confidence: CONFIDENCE.ok,
    reason: `every domain and endpoint has a working path (${passed.layers.join(' → ')}): ${shortList(passed.subjects)}`,
    subjects: passed.subjects,
  };
}
