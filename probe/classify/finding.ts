// What the per-layer rules produce: findings (a verdict for one subject) and gaps (no verdict possible).
import type { Evidence } from '../../contract/evidence.js';
import type { Failure } from '../../contract/failure.js';
import type { Target } from '../../contract/target.js';
import type { FindingVerdict, Layer } from '../../contract/verdict.js';

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
  /**
   * Set when the finding is about some addresses of the subject while its other addresses worked:
   * "domain ip:port" of each, failing and working.
   */
  addresses?: { failing: string[]; working: string[] };
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

/** What the TCP or TLS rules make of one subject on one port. */
export interface PortResult extends LayerResult {
  /** At least one address passed: a TCP connect succeeded, or a TLS handshake completed acceptably. */
  passed: boolean;
}

export interface Context {
  target: Target;
  evidence: Evidence;
  /** The control prober's evidence for the same target, when classifying at the collector. */
  control: Evidence | undefined;
}

