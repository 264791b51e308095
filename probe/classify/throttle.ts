// Throttling: a bulk rate or a TLS handshake far worse than the international canaries' in the same run (a degradation, not an outage).
import type { Baseline, Evidence } from '../../contract/evidence.js';
import type { Target } from '../../contract/target.js';
import { nameKey, shortList, unique } from './address.js';
import { CONFIDENCE } from './confidence.js';
import type { Finding } from './finding.js';

export interface ThrottleThresholds {
  /** A bulk rate below this fraction of the canaries' best... */
  ratio: number;
  /** ...and below this many bytes per second is throttling. */
  maxRateBps: number;
  /** A fastest completed handshake slower than this (ms)... */
  handshakeMs: number;
  /** ...while a canary's fastest took less than this (ms) is throttling too. */
  canaryHandshakeMs: number;
}

/** The defaults of the probe config (measure.throttle_*). */
export const DEFAULT_THROTTLE: Readonly<ThrottleThresholds> = Object.freeze({
  ratio: 0.1,
  maxRateBps: 32_000,
  handshakeMs: 2000,
  canaryHandshakeMs: 300,
});

/** "12.3 kB/s", "4.10 MB/s". */
export function formatRate(bps: number): string {
  if (bps >= 1_000_000) return `${(bps / 1_000_000).toFixed(2)} MB/s`;
  if (bps >= 1000) return `${(bps / 1000).toFixed(1)} kB/s`;
  return `${Math.round(bps)} B/s`;
}

/** The fastest completed target-SNI handshake in some evidence (ms), or null. */
export function fastestHandshake(evidence: Evidence): number | null {
  const times = evidence.tls.filter((t) => t.failure === null && t.rtt_ms !== null).map((t) => t.rtt_ms as number);
  return times.length === 0 ? null : Math.min(...times);
}

/** The best bulk rate in some evidence (bytes per second), or null. */
export function bestBulkRate(evidence: Evidence): number | null {
  const rates = (evidence.bulk ?? []).filter((b) => b.failure === null && b.rate_bps !== null).map((b) => b.rate_bps as number);
  return rates.length === 0 ? null : Math.max(...rates);
}

/** The canaries' figures of a run: the best bulk rate and the fastest handshake among the international canaries. */
export function baselineOf(canaries: ReadonlyArray<{ target: Target; evidence: Evidence }>): Baseline {
  const international = canaries.filter((c) => c.target.category === 'canary' && c.target.canary === 'international');
  const rates = international.map((c) => bestBulkRate(c.evidence)).filter((r): r is number => r !== null);
  const handshakes = international.map((c) => fastestHandshake(c.evidence)).filter((r): r is number => r !== null);
  return {
    canaries: international.map((c) => c.target.id),
    bulk_rate_bps: rates.length === 0 ? null : Math.max(...rates),
    tls_handshake_ms: handshakes.length === 0 ? null : Math.min(...handshakes),
  };
}

/**
 * Throttling findings for a target against the baseline in its evidence: every bulk read slower than
 * both thresholds, or (without a slow bulk read) a fastest handshake over `handshakeMs` while the
 * canaries' took under `canaryHandshakeMs`. Without a baseline, nothing.
 */
export function judgeThrottle(target: Target, evidence: Evidence, thresholds: ThrottleThresholds): Finding[] {
  const baseline = evidence.baseline;
  if (baseline === undefined || target.category === 'canary') return [];
  const canaries = shortList(baseline.canaries);
  const findings: Finding[] = [];
  const canaryRate = baseline.bulk_rate_bps;
  if (canaryRate !== null) {
    for (const b of evidence.bulk ?? []) {
      if (b.failure !== null || b.rate_bps === null) continue;
      if (b.rate_bps >= thresholds.maxRateBps || b.rate_bps >= canaryRate * thresholds.ratio) continue;
      findings.push({
        verdict: 'http.throttled',
        layer: 'http',
        confidence: CONFIDENCE.httpThrottledBulk,
        subject: nameKey(b.domain),
        reason:
          `${b.domain}: ${b.url} on port ${b.port} read at ${formatRate(b.rate_bps)} (${b.body_length ?? 0} bytes in ${b.body_ms ?? 0} ms) ` +
          `where the canaries (${canaries}) reached ${formatRate(canaryRate)} in the same run: below ${formatRate(thresholds.maxRateBps)} ` +
          `and below ${thresholds.ratio} of the canaries' rate`,
      });
    }
  }
  const canaryHandshake = baseline.tls_handshake_ms;
  const own = fastestHandshake(evidence);
  if (findings.length === 0 && canaryHandshake !== null && own !== null && own > thresholds.handshakeMs && canaryHandshake < thresholds.canaryHandshakeMs) {
    const slow = evidence.tls.filter((t) => t.failure === null && t.rtt_ms !== null);
    const domains = unique(slow.map((t) => (t.domain === null ? t.ip : nameKey(t.domain))));
    for (const domain of domains) {
      findings.push({
        verdict: 'http.throttled',
        layer: 'tls',
        confidence: CONFIDENCE.httpThrottledHandshake,
        subject: domain,
        reason:
          `${domain}: the fastest TLS handshake of the target took ${Math.round(own)} ms where the canaries' (${canaries}) took ` +
          `${Math.round(canaryHandshake)} ms in the same run: slower than ${thresholds.handshakeMs} ms while theirs was under ${thresholds.canaryHandshakeMs} ms`,
      });
    }
  }
  return findings;
}
