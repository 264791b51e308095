// One row of the measurement index derived from an archived record: by the index itself, or by an import's parsing thread (no database here).
import type { Decision } from '../../contract/verdict.js';
import { verdictOf } from './archive.js';
import type { ArchiveCursor, ArchivedRecord } from './archive.js';

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

/** A row without its place in the archive (known once the record is appended), and the record's network name. */
export interface RowOfRecord {
  row: Omit<IndexRow, 'segment' | 'offset'>;
  network: string | null;
}

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

/** The index row of a record whose line starts at `at`. */
export function indexRow(r: ArchivedRecord, at: ArchiveCursor): IndexRow {
  const m = r.measurement;
  const decision = collectorDecision(r);
  const { bulk, canary } = throughput(r);
  const scope = decision.scope ?? (decision.layer !== null && decision.layer !== undefined ? 'full' : null);
  return {
    id: m.id,
    t: Date.parse(m.started_at),
    target: m.target.id,
    asn: r.asn ?? NO_ASN,
    cc: r.cc ?? NO_CC,
    probe: r.probe_id,
    verdict: decision.verdict,
    probe_verdict: m.verdict.verdict,
    layer: decision.layer ?? null,
    scope,
    dns_ms: layerMs(r, 'dns'),
    tcp_ms: layerMs(r, 'tcp'),
    tls_ms: layerMs(r, 'tls'),
    http_ms: layerMs(r, 'http'),
    bulk_kBps: bulk,
    canary_kBps: canary,
    issuer: interceptionIssuer(r, decision.verdict),
    segment: at.segment,
    offset: at.offset,
  };
}


/** The row of a record before it is appended (its place filled in by withPlace). */
export function rowOfRecord(r: ArchivedRecord): RowOfRecord {
  const { segment: _s, offset: _o, ...row } = indexRow(r, { segment: '', offset: 0 });
  return { row, network: r.network };
}

/** A row with the place its record's line starts at. */
export function withPlace(row: RowOfRecord['row'], at: ArchiveCursor): IndexRow {
  return { ...row, segment: at.segment, offset: at.offset };
}
