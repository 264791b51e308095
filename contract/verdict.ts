// The verdict vocabulary (DESIGN.md), what counts as blocked, the verdicts' ranking and the shape of a classifier's decision.

export const VERDICTS = [
  'ok',
  'dns.nxdomain',
  'dns.bogon',
  'dns.injected',
  'dns.inconsistent',
  'dns.timeout',
  'tcp.reset',
  'tcp.timeout',
  'tcp.refused',
  'tls.reset',
  'tls.timeout',
  'tls.eof',
  'tls.interception',
  'http.blockpage',
  'http.reset',
  'http.timeout',
  'http.diff',
  'http.throttled',
  'down',
  'offline',
  'inconclusive',
] as const;

export type Verdict = (typeof VERDICTS)[number];

/** Verdicts that do not say "this target is blocked here": it answered, it was down for everyone, or we cannot tell. */
const NOT_BLOCKED: ReadonlySet<string> = new Set<Verdict>(['ok', 'down', 'offline', 'inconclusive']);

/** The one rule for "blocked" used by the aggregates, the time series, events and reports. */
export function isBlocked(verdict: Verdict | (string & {})): boolean {
  return !NOT_BLOCKED.has(verdict);
}

/** The verdicts a single subject can get from a layer rule (ok, offline and inconclusive are decided elsewhere). */
export type FindingVerdict = Exclude<Verdict, 'ok' | 'offline' | 'inconclusive'>;

/**
 * Strongest first. Earlier layers explain later ones (a poisoned answer explains the failed connect),
 * so the order is by layer, then within DNS: injected > bogon > nxdomain > inconsistent > timeout.
 * `http.throttled` is a degradation, not an outage: below every blocking. `down` (the control fails
 * the same way) ranks below every censorship verdict.
 */
export const VERDICT_RANK: readonly FindingVerdict[] = [
  'dns.injected',
  'dns.bogon',
  'dns.nxdomain',
  'dns.inconsistent',
  'dns.timeout',
  'tcp.reset',
  'tcp.timeout',
  'tcp.refused',
  'tls.interception',
  'tls.reset',
  'tls.eof',
  'tls.timeout',
  'http.blockpage',
  'http.reset',
  'http.timeout',
  'http.diff',
  'http.throttled',
  'down',
];

/** Position in VERDICT_RANK: lower is stronger. */
export function rankOf(verdict: FindingVerdict): number {
  return VERDICT_RANK.indexOf(verdict);
}

export const LAYERS = ['dns', 'tcp', 'tls', 'http'] as const;
export type Layer = (typeof LAYERS)[number];

export interface Decision {
  verdict: Verdict;
  /** The layer the verdict is about; null for ok, offline, inconclusive. */
  layer: Layer | null;
  /** 0..1: how sure the rule is (e.g. an unknown untrusted chain is interception with lower confidence). */
  confidence: number;
  /** One sentence naming the evidence that decided, e.g. "www.youtube.com A via system: NXDOMAIN". */
  reason: string;
  /** Where the verdict applies: the domains/endpoints that showed it. */
  subjects: string[];
  /**
   * `full` when every measured domain, address or endpoint of the target showed the verdict,
   * `partial` when some did and others worked (some of Telegram's data centres); absent means full.
   */
  scope?: Scope;
  /** With scope `partial`: the subjects that worked (`subjects` are the ones that showed the verdict). */
  working?: string[];
}

export const SCOPES = ['full', 'partial'] as const;
export type Scope = (typeof SCOPES)[number];
