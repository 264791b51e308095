// What the per-layer rules produce: findings (a verdict for one subject), gaps (no verdict possible) and their ranking.
import type { Evidence } from '../evidence.js';
import type { Failure } from '../failure.js';
import type { Target } from '../target.js';
import type { Layer, Verdict } from '../verdict.js';

/** The verdicts a single subject can get from a layer rule (ok, offline and inconclusive are decided elsewhere). */
export type FindingVerdict = Exclude<Verdict, 'ok' | 'offline' | 'inconclusive'>;

/**
 * What to look for in the control's evidence to tell "the path is blocked" from "the service is
 * failing". A finding without a symptom (injection, a known interception CA, a block page) is never
 * explained away by the control.
 */
export type Symptom =
  | { layer: 'dns'; kind: 'nxdomain' | 'timeout' | 'bogon'; domain: string; addresses: string[] }
  | { layer: 'tcp' | 'tls'; domain: string | null; ip: string | null; port: number; failure: Failure | 'untrusted' }
  | { layer: 'http'; domain: string; status: number | null; title: string | null; failure: Failure | null };

export interface Finding {
  verdict: FindingVerdict;
  layer: Layer;
  confidence: number;
  /** One sentence naming the evidence. */
  reason: string;
  /** The domain, or "ip:port" of a fixed endpoint. */
  subject: string;
  symptom?: Symptom;
}

/** A subject and layer whose evidence allows no verdict (unknown failure, resolver errors, nothing recorded). */
export interface Gap {
  subject: string;
  layer: Layer;
  reason: string;
}

export interface LayerResult {
  findings: Finding[];
  gaps: Gap[];
}

export interface Context {
  target: Target;
  evidence: Evidence;
  /** The control prober's evidence for the same target, when classifying at the collector. */
  control: Evidence | undefined;
}

/**
 * Strongest first. Earlier layers explain later ones (a poisoned answer explains the failed connect),
 * so the order is by layer, then within DNS: injected > bogon > nxdomain > inconsistent > timeout.
 * `down` (the control fails the same way) ranks below every censorship verdict.
 */
export const FINDING_RANK: readonly FindingVerdict[] = [
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
  'http.diff',
  'down',
];

export function rankOf(verdict: FindingVerdict): number {
  return FINDING_RANK.indexOf(verdict);
}
