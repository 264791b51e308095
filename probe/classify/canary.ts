// Run-level rule: when the probe's canaries fail, the run says `offline` instead of blaming any target.
import type { Evidence } from '../../contract/evidence.js';
import type { Target } from '../../contract/target.js';
import { isBlocked, type Decision } from '../../contract/verdict.js';
import { unique } from './address.js';
import { CONFIDENCE } from './confidence.js';

export interface RunResult {
  target: Target;
  decision: Decision;
  evidence: Evidence;
}

/**
 * A canary is reached when some address of it (resolved, or fixed) accepted a TCP connection and its
 * own verdict is no block of the whole canary. A portal that answers plain HTTP while it refuses,
 * drops or intercepts HTTPS accepts connections too: what it does to the canary is a block like any
 * other, and a canary blocked everywhere tells the same as a canary out of reach.
 */
export function canaryReached(evidence: Evidence, decision?: Decision): boolean {
  if (!evidence.tcp.some((t) => t.failure === null)) return false;
  return decision === undefined || !isBlocked(decision.verdict) || decision.scope === 'partial';
}

function failureSummary(evidence: Evidence): string {
  const dns = unique(evidence.dns.flatMap((o) => o.queries).map((q) => q.failure).filter((f) => f !== null));
  const tcp = unique(evidence.tcp.map((t) => t.failure).filter((f) => f !== null));
  const parts = [dns.length > 0 ? `dns ${dns.join('/')}` : null, tcp.length > 0 ? `tcp ${tcp.join('/')}` : null].filter(
    (p): p is string => p !== null,
  );
  if (parts.length > 0) return parts.join(', ');
  return evidence.dns.length === 0 && evidence.tcp.length === 0 ? 'nothing recorded' : 'no address connected';
}

function describeCanary(r: RunResult): string {
  // Connected but blocked as a whole (a portal's reset on 443, its own certificate): its verdict says what failed.
  const what = r.evidence.tcp.some((t) => t.failure === null) && isBlocked(r.decision.verdict) ? r.decision.verdict : failureSummary(r.evidence);
  return `${r.target.id}${r.target.canary !== undefined ? ` (${r.target.canary})` : ''}: ${what}`;
}

/**
 * The run's decisions, in input order. When every canary failed, or every international canary
 * failed, every decision becomes `offline` (the reason names the failed canaries and keeps the
 * target's own finding); otherwise, or when the run has no canary, the decisions are unchanged.
 */
export function applyCanaries(results: ReadonlyArray<RunResult>): Decision[] {
  const canaries = results.filter((r) => r.target.category === 'canary');
  const decisions = results.map((r) => r.decision);
  if (canaries.length === 0) return decisions;
  const failed = canaries.filter((r) => !canaryReached(r.evidence, r.decision));
  const international = canaries.filter((r) => r.target.canary === 'international');
  const allFailed = failed.length === canaries.length;
  const internationalFailed = international.length > 0 && international.every((r) => failed.includes(r));
  if (!allFailed && !internationalFailed) return decisions;

  const blamed = allFailed ? failed : international;
  const head = allFailed ? 'every canary failed' : 'every international canary failed while a domestic one answered';
  const canaryText = `${head} (${blamed.map(describeCanary).join('; ')})`;
  const portal = results.map((r) => r.evidence.line?.portal ?? null).find((p) => p !== null) ?? null;
  const why = portal === null ? 'probe offline' : `${PORTAL_PREFIX} (${portal})`;
  return results.map((r) => ({
    verdict: 'offline',
    layer: null,
    confidence: allFailed ? CONFIDENCE.offline : CONFIDENCE.offlineInternational,
    reason: `${why}, ${canaryText}; the target's own finding was ${r.decision.verdict}: ${r.decision.reason}`,
    subjects: r.decision.subjects,
  }));
}

/** How an offline reason begins when the canaries show a captive portal or an operator's wall. */
const PORTAL_PREFIX = 'probe offline behind a captive portal or an operator\'s wall (a login or "top up your balance" page)';
