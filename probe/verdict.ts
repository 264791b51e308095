// The verdict vocabulary (DESIGN.md) and the shape of a classifier's decision.

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
  'http.diff',
  'down',
  'offline',
  'inconclusive',
] as const;

export type Verdict = (typeof VERDICTS)[number];

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
}
