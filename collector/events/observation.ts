// The detector's input: one classified measurement reduced to the fields detection needs, and its method.
import { verdictOf, type Category, type Layer, type RecordDigest, type Scope, type Verdict } from './contract.js';
import { isBlocked } from './contract.js';

export interface Observation {
  /** The measurement id (a ULID). */
  id: string;
  probe_id: string;
  target: string;
  category: Category;
  /** From the archive record (the collector's lookup), not the probe's own claim. */
  asn: number | null;
  cc: string | null;
  /** started_at, epoch ms. */
  time: number;
  verdict: Verdict;
  layer: Layer | null;
  /** Absent means full. */
  scope?: Scope;
  confidence: number;
}

/** How a blocking is done; every blocked verdict maps onto one. */
export const METHODS = ['dns', 'tcp', 'tls', 'interception', 'http', 'throttling'] as const;
export type Method = (typeof METHODS)[number];
/** The methods of event series: the blocking methods and `shutdown` (probes' canaries failing together). */
export type EventMethod = Method | 'shutdown';

const METHOD_OF: Readonly<Record<string, Method>> = {
  'dns.nxdomain': 'dns',
  'dns.bogon': 'dns',
  'dns.injected': 'dns',
  'dns.inconsistent': 'dns',
  'dns.timeout': 'dns',
  'tcp.reset': 'tcp',
  'tcp.timeout': 'tcp',
  'tcp.refused': 'tcp',
  'tls.reset': 'tls',
  'tls.timeout': 'tls',
  'tls.eof': 'tls',
  'tls.interception': 'interception',
  'http.blockpage': 'http',
  'http.diff': 'http',
  'http.reset': 'http',
  'http.timeout': 'http',
  'http.throttled': 'throttling',
};

/** The method index (into METHODS) of a blocked verdict, or -1 when the verdict is not a blocking. */
export function methodIndex(verdict: string): number {
  if (!isBlocked(verdict)) return -1;
  const method = METHOD_OF[verdict];
  if (method !== undefined) return METHODS.indexOf(method);
  // An unknown blocked verdict: its prefix names the layer.
  const prefix = verdict.slice(0, verdict.indexOf('.'));
  const index = METHODS.indexOf(prefix as Method);
  return index;
}

/** The method of a verdict, or null when it is not a blocking (ok, down, offline, inconclusive). */
export function methodOf(verdict: string): Method | null {
  const index = methodIndex(verdict);
  return index < 0 ? null : METHODS[index]!;
}

/** The observation of one archived record: network from the record, verdict and scope from the measurement. */
export function observationFromRecord(record: RecordDigest): Observation {
  const m = record.measurement;
  // The collector's verdict when a control judged the measurement (a failure the control shares is `down`, never an event).
  const decided = verdictOf(record);
  const scope = decided.scope;
  const obs: Observation = {
    id: m.id,
    probe_id: record.probe_id,
    target: m.target.id,
    category: m.target.category,
    asn: record.asn,
    cc: record.cc,
    time: Date.parse(m.started_at),
    verdict: decided.verdict,
    layer: decided.layer,
    confidence: decided.confidence,
  };
  if (scope !== undefined) obs.scope = scope;
  return obs;
}
