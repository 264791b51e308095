// What the API serves of an archived measurement: the record without anything that could carry the volunteer's own address.
import type { ArchivedRecord } from '../../storage/archive.js';
import { collectorDecision, type IndexRow } from '../../storage/measurement-index.js';

/**
 * Response headers that proxies and middleboxes fill with the client's address (a block page may
 * echo them): never served. Target servers' addresses elsewhere in the evidence are fine.
 */
const CLIENT_ADDRESS_HEADERS: ReadonlySet<string> = new Set([
  'x-forwarded-for',
  'x-real-ip',
  'x-client-ip',
  'x-originating-ip',
  'x-remote-addr',
  'x-remote-ip',
  'x-cluster-client-ip',
  'forwarded',
  'true-client-ip',
  'cf-connecting-ip',
  'via',
]);

function scrubHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof headers !== 'object' || headers === null) return out;
  for (const [name, value] of Object.entries(headers as Record<string, string>)) if (!CLIENT_ADDRESS_HEADERS.has(name.toLowerCase())) out[name] = value;
  return out;
}

/** The evidence with the HTTP observations' (and bulk reads') client-address headers removed. */
function publicEvidence(evidence: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...evidence };
  for (const key of ['http', 'bulk']) {
    const list = evidence[key];
    if (Array.isArray(list)) out[key] = list.map((o: Record<string, unknown>) => ({ ...o, headers: scrubHeaders(o['headers']) }));
  }
  return out;
}

/** A row of the index as the list answers it: times in ISO 8601, unknown network fields as null. */
export function rowView(row: IndexRow): Record<string, unknown> {
  return {
    id: row.id,
    started_at: new Date(row.t).toISOString(),
    target: row.target,
    asn: row.asn === -1 ? null : row.asn,
    cc: row.cc === '' ? null : row.cc,
    probe: row.probe,
    verdict: row.verdict,
    probe_verdict: row.probe_verdict,
    layer: row.layer,
    scope: row.scope,
    timing_ms: { dns: row.dns_ms, tcp: row.tcp_ms, tls: row.tls_ms, http: row.http_ms },
    bulk_kBps: row.bulk_kBps,
    canary_kBps: row.canary_kBps,
    issuer: row.issuer,
  };
}

/** The whole record: both verdicts, the collector's reason, the evidence per layer, the network it came from. */
export function recordView(row: IndexRow, record: ArchivedRecord): Record<string, unknown> {
  const m = record.measurement;
  const decision = collectorDecision(record);
  return {
    ...rowView(row),
    received_at: record.received_at,
    network: { asn: record.asn, cc: record.cc, name: record.network },
    target: m.target,
    runtime_ms: m.runtime_ms,
    software: m.probe.software,
    decision,
    probe_decision: m.verdict,
    // The control measurement the collector's decision was judged with (null: none, the probe's verdict stands).
    control_id: record.collector?.control_id ?? null,
    reason: decision.reason,
    timing: m.timing,
    evidence: publicEvidence(m.evidence as unknown as Record<string, unknown>),
  };
}
