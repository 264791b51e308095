// The classifier's confidence values in one table, so that rules stay comparable and tunable.

export const CONFIDENCE = {
  ok: 0.9,
  inconclusive: 0.5,
  /** The control prober saw the same failure: the service, not the path, is failing. */
  down: 0.8,
  /** Every canary failed. */
  offline: 0.9,
  /** Only the international canaries failed (the domestic ones answered). */
  offlineInternational: 0.8,

  dnsInjected: 0.95,
  dnsBogon: 0.95,
  /** NXDOMAIN here, an answer from the DoH control. */
  dnsNxdomainDoh: 0.9,
  /** NXDOMAIN from one plain resolver, an answer from another (both interceptable). */
  dnsNxdomainPlain: 0.7,
  /** NXDOMAIN from every plain resolver, no DoH answer and no control: the target's domain is known to exist. */
  dnsNxdomainEverywhere: 0.5,
  /** NXDOMAIN from every resolver here while the control prober resolved it. */
  dnsNxdomainControl: 0.8,
  /** Judged with TLS validation of the addresses. */
  dnsInconsistentTls: 0.8,
  /** Judged with TCP connects only (the target has no TLS port). */
  dnsInconsistentTcp: 0.6,
  /** The tested resolver gave only errors (SERVFAIL, REFUSED, empty) for a name the control resolves and that validates. */
  dnsResolverError: 0.6,
  dnsTimeout: 0.8,
  /** The system's own resolver never answered (queried directly) while the others answered addresses that work. */
  dnsSilentResolver: 0.75,

  tcpReset: 0.9,
  tcpTimeout: 0.8,
  tcpRefused: 0.7,

  /** Target SNI failed, neutral SNI to the same address completed: SNI filtering. */
  tlsSni: 0.95,
  /** Neutral SNI failed too: blocking by address at TLS time. */
  tlsBoth: 0.6,
  /** Some addresses show SNI filtering, others fail with the neutral SNI too. */
  tlsMixedNeutral: 0.8,
  /** No neutral-SNI retry was recorded. */
  tlsNoNeutral: 0.75,
  /** The chain belongs to a known interception CA. */
  tlsKnownCa: 0.99,
  /** Any other untrusted chain, or a trusted chain for the wrong name. */
  tlsUntrusted: 0.6,

  httpBlockpage: 0.95,
  /** An unexpected status. */
  httpStatus: 0.5,
  /** The request failed (EOF, invalid response) after a good handshake. */
  httpFailure: 0.4,
  /** Reset after the request was sent, the connection (and handshake) itself fine: a keyword filter. */
  httpReset: 0.8,
  /** No answer after the request, the connection (and handshake) fine. */
  httpTimeout: 0.7,
  /** A bulk read far slower than the canaries' in the same run. */
  httpThrottledBulk: 0.8,
  /** Handshakes far slower than the canaries' in the same run. */
  httpThrottledHandshake: 0.6,
  /** Applied to a finding on some addresses of a domain while its other addresses worked. */
  partialFactor: 0.7,

  /** Applied to a block judged without the control's evidence when one was expected (a collector is configured). */
  noControlFactor: 0.9,
  /** Applied to a loss-prone block (a timeout, an inconsistent answer) when the run showed some packet loss. */
  lineSomeLossFactor: 0.8,
  /** Applied to such a block under heavy loss when every attempt at the failing layer failed in both measurements. */
  lineHeavyLossFactor: 0.6,

  /** Applied when the failing addresses of one subject disagree on the failure. */
  mixedFactor: 0.8,
} as const;

/** Rounded to two decimals so that products such as 0.9 × 0.8 compare and serialize cleanly. */
export function conf(value: number): number {
  return Math.round(value * 100) / 100;
}
