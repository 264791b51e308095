// An archived record reduced to what the store's index and the event detector read: handed on by an import whose records were parsed in a worker.
import type { Category } from '../../contract/target.js';
import type { Decision, Layer, Scope, Verdict } from '../../contract/verdict.js';
import type { ArchivedRecord } from './archive.js';
import type { RowExtras } from './index-row.js';

/** Structurally a part of {@link ArchivedRecord}: every archived record is a digest of itself. */
export interface RecordDigest {
  received_at: string;
  probe_id: string;
  asn: number | null;
  cc: string | null;
  network: string | null;
  /** The collector's verdict, when a control judged the measurement (see verdictOf). */
  collector?: { verdict: RecordDigest['measurement']['verdict'] };
  measurement: {
    id: string;
    started_at: string;
    target: { id: string; category: Category };
    verdict: { verdict: Verdict; layer: Layer | null; confidence: number; scope?: Scope };
  };
  /** What the measurement index's row holds beyond the digest, derived where the record was parsed (an import's thread). */
  index?: RowExtras;
}

/** The digest of a record (a new object holding only the digest's fields). */
export function digestOf(r: ArchivedRecord): RecordDigest {
  const m = r.measurement;
  const digest: RecordDigest = {
    received_at: r.received_at,
    probe_id: r.probe_id,
    asn: r.asn,
    cc: r.cc,
    network: r.network,
    measurement: { id: m.id, started_at: m.started_at, target: { id: m.target.id, category: m.target.category }, verdict: verdictDigest(m.verdict) },
  };
  if (r.collector !== undefined) digest.collector = { verdict: verdictDigest(r.collector.verdict) };
  return digest;
}

function verdictDigest(d: Decision): RecordDigest['measurement']['verdict'] {
  const verdict: RecordDigest['measurement']['verdict'] = { verdict: d.verdict, layer: d.layer, confidence: d.confidence };
  if (d.scope !== undefined) verdict.scope = d.scope;
  return verdict;
}
