// The measurement record of the data contract (DESIGN.md): one target tested once by one probe.
import type { Evidence } from './evidence.js';
import type { Category } from './target.js';
import type { Decision } from './verdict.js';

export const MEASUREMENT_SCHEMA = 1;

export interface ProbeInfo {
  /** Random pseudonymous id of the probe (never derived from hardware or address). */
  id: string;
  asn: number | null;
  cc: string | null;
  network: string | null;
  software: { name: 'ashyq-probe'; version: string };
}

export interface Measurement {
  schema: typeof MEASUREMENT_SCHEMA;
  /** Globally unique, lexicographically sortable by creation time (ULID). */
  id: string;
  probe: ProbeInfo;
  target: { id: string; category: Category };
  /** ISO 8601 UTC. */
  started_at: string;
  runtime_ms: number;
  evidence: Evidence;
  /** Timing per layer in ms (sum of the layer's steps' wall time as run, for the progress line). */
  timing: { dns: number; tcp: number; tls: number; http: number };
  verdict: Decision;
}
