// A target measured twice in one run: a censor fails it again the same way, random loss rarely does.
import { isBlocked, type Decision } from '../../contract/verdict.js';
import { CONFIDENCE } from './confidence.js';

/**
 * The decision over two attempts of the same target: the second's when it found no block (the first
 * failure was the line's, not a censor's); the block when both found the same one on the same subject;
 * inconclusive otherwise (no mechanism fails one way and then another within seconds, loss does).
 */
export function judgeAttempts(first: Decision, second: Decision): Decision {
  if (!isBlocked(first.verdict)) return second;
  const earlier = `${first.verdict} (${first.reason})`;
  if (!isBlocked(second.verdict)) {
    return { ...second, reason: `measured again: the first attempt found ${earlier}, the second did not: ${second.reason}` };
  }
  // The same block on the same domain, endpoint or address: loss striking the same place twice is rare.
  const same = second.verdict === first.verdict && (first.subjects.length === 0 || second.subjects.some((x) => first.subjects.includes(x)));
  if (same) {
    return { ...second, reason: `${second.reason}; found again when measured a second time` };
  }
  return {
    verdict: 'inconclusive',
    layer: null,
    confidence: CONFIDENCE.inconclusive,
    reason: `the two attempts disagree: first ${earlier}, then ${second.verdict} (${second.reason})`,
    subjects: [...new Set([...first.subjects, ...second.subjects])],
  };
}
