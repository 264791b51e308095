// One row of the measurement index derived from an archived record: by the index itself, or from its digest and extras derived by an import's parsing thread (no database here).
import type { Decision } from '../../contract/verdict.js';
import { verdictOf } from './archive.js';
import type { ArchiveCursor, ArchivedRecord } from './archive.js';
import type { RecordDigest } from './record-digest.js';

/** One row of `measurement_index` (the column names are relied on by the monthly report). */
export interface IndexRow {
  id: string;
  /** Measurement start, epoch ms. */
  t: number;
  target: string;
  /** -1 when unknown. */
  asn: number;
  /** '' when unknown. */
  cc: string;
  probe: string;
  /** The verdict the collector keeps (its own re-classification when it made one, else the probe's). */
  verdict: string;
  probe_verdict: string;
  layer: string | null;
  scope: 'full' | 'partial' | null;
  dns_ms: number | null;
  tcp_ms: number | null;
  tls_ms: number | null;
  http_ms: number | null;
  /** Best bulk read rate of the target in kB/s, and the canaries' in the same run, when the measurement has them. */
  bulk_kBps: number | null;
  canary_kBps: number | null;
  /** Issuer of the intercepting certificate when the verdict is tls.interception. */
  issuer: string | null;
  segment: string;
  offset: number;
}

/**
 * What a row holds beyond the record's digest, in column order: the layers' times (dns, tcp, tls,
 * http), the target's best bulk rate and the canaries', the interceptor's issuer. Derived where the
 * record is parsed (an import's thread) and handed on with the digest: a short array, cheap to copy
 * between threads, while the rest of the row is read from the digest itself.
 */
export type RowExtras = [dns_ms: number | null, tcp_ms: number | null, tls_ms: number | null, http_ms: number | null, bulk_kBps: number | null, canary_kBps: number | null, issuer: string | null];

const NO_ASN = -1;
const NO_CC = '';

function finite(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The decision the collector keeps: its own when the record carries one (a re-classification), else the probe's. */
export function collectorDecision(r: ArchivedRecord): Decision {
  return verdictOf(r);
}

/** A layer's time when the measurement has evidence of that layer, else null. */
function layerMs(r: ArchivedRecord, layer: 'dns' | 'tcp' | 'tls' | 'http'): number | null {
  const list = (r.measurement.evidence as unknown as Record<string, unknown> | undefined)?.[layer];
  if (!Array.isArray(list) || list.length === 0) return null;
  return finite((r.measurement.timing as Record<string, unknown> | undefined)?.[layer]);
}

/** Best bulk rate of the target, and the canaries' baseline rate, in kB/s (read defensively: older records have neither). */
function throughput(r: ArchivedRecord): { bulk: number | null; canary: number | null } {
  const evidence = r.measurement.evidence as unknown as { bulk?: unknown; baseline?: unknown } | undefined;
  let bulk: number | null = null;
  if (Array.isArray(evidence?.bulk)) {
    for (const b of evidence.bulk as unknown[]) {
      const rate = finite((b as { rate_bps?: unknown } | null)?.rate_bps);
      if (rate !== null && (bulk === null || rate / 1000 > bulk)) bulk = rate / 1000;
    }
  }
  const base = finite((evidence?.baseline as { bulk_rate_bps?: unknown } | null | undefined)?.bulk_rate_bps);
  return { bulk, canary: base === null ? null : base / 1000 };
}

/** The issuer at the top of the first untrusted chain, when the verdict is interception. */
function interceptionIssuer(r: ArchivedRecord, verdict: string): string | null {
  if (verdict !== 'tls.interception') return null;
  const tls = r.measurement.evidence?.tls ?? [];
  const subjects = new Set(collectorDecision(r).subjects ?? []);
  const untrusted = tls.filter((o) => o.trusted === false && o.chain.length > 0);
  const chosen = untrusted.find((o) => (o.domain !== null && subjects.has(o.domain)) || subjects.has(o.ip)) ?? untrusted[0];
  return chosen === undefined ? null : (chosen.chain.at(-1)!.issuer ?? null);
}

/** The part of a record's row that its digest does not hold. */
export function extrasOf(r: ArchivedRecord): RowExtras {
  const { bulk, canary } = throughput(r);
  return [layerMs(r, 'dns'), layerMs(r, 'tcp'), layerMs(r, 'tls'), layerMs(r, 'http'), bulk, canary, interceptionIssuer(r, collectorDecision(r).verdict)];
}

/** The index row of a record (as its digest and the extras derived from it) whose line starts at `at`. */
export function rowOf(d: RecordDigest, x: Readonly<RowExtras>, at: ArchiveCursor): IndexRow {
  const m = d.measurement;
  const decision = verdictOf(d);
  const scope = decision.scope ?? (decision.layer !== null && decision.layer !== undefined ? 'full' : null);
  return {
    id: m.id,
    t: Date.parse(m.started_at),
    target: m.target.id,
    asn: d.asn ?? NO_ASN,
    cc: d.cc ?? NO_CC,
    probe: d.probe_id,
    verdict: decision.verdict,
    probe_verdict: m.verdict.verdict,
    layer: decision.layer ?? null,
    scope,
    dns_ms: x[0],
    tcp_ms: x[1],
    tls_ms: x[2],
    http_ms: x[3],
    bulk_kBps: x[4],
    canary_kBps: x[5],
    issuer: x[6],
    segment: at.segment,
    offset: at.offset,
  };
}

/** The index row of a record whose line starts at `at`. */
export function indexRow(r: ArchivedRecord, at: ArchiveCursor): IndexRow {
  return rowOf(r, extrasOf(r), at);
}
