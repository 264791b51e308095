// Synthetic archived measurements and an in-memory archive source, for the InfluxDB sink tests and the ingest bench.
import type { ArchiveCursor, ArchivedRecord } from '../../collector/storage/archive.js';
import type { ArchiveSource } from '../../collector/pipeline/archive-tail.js';
import { MEASUREMENT_SCHEMA, type Measurement } from '../../contract/measurement.js';
import type { Category } from '../../contract/target.js';
import type { Decision, Verdict } from '../../contract/verdict.js';
import { ulid } from '../../probe/ulid.js';

export const TARGETS: Array<{ id: string; category: Category }> = [
  { id: 'youtube', category: 'video' },
  { id: 'facebook', category: 'social' },
  { id: 'telegram', category: 'messenger' },
];

export const VERDICT_CYCLE: Decision[] = [
  { verdict: 'ok', layer: null, confidence: 1, reason: 'all layers answered', subjects: [] },
  { verdict: 'tls.reset', layer: 'tls', confidence: 0.9, reason: 'reset after ClientHello', subjects: ['www.youtube.com'] },
  { verdict: 'dns.nxdomain', layer: 'dns', confidence: 0.8, reason: 'NXDOMAIN via system', subjects: ['www.facebook.com'] },
  { verdict: 'down', layer: 'tcp', confidence: 0.7, reason: 'control fails too', subjects: [] },
  { verdict: 'tcp.timeout', layer: 'tcp', confidence: 0.6, reason: 'connect timed out', subjects: ['149.154.167.51:443'] },
];

export const ASNS: Array<number | null> = [9198, 21299, null];

export interface RecordOptions {
  /** Epoch ms of the first record's started_at; record i starts i seconds later. */
  startMs: number;
  probeId?: string;
  target?: { id: string; category: Category };
  verdict?: Decision;
  asn?: number | null;
  cc?: string | null;
  /** Override started_at (ISO). */
  startedAt?: string;
  /** Prefix of the cycling target ids (keeps the series of one test apart from another's). */
  targetPrefix?: string;
}

/** Record number i: target, verdict and ASN cycle; every record has its own ULID and start second. */
export function makeRecord(i: number, options: RecordOptions): ArchivedRecord {
  const started = options.startedAt !== undefined ? Date.parse(options.startedAt) : options.startMs + i * 1000;
  const cycled = TARGETS[i % TARGETS.length]!;
  const target = options.target ?? { id: `${options.targetPrefix ?? ''}${cycled.id}`, category: cycled.category };
  const verdict = options.verdict ?? VERDICT_CYCLE[i % VERDICT_CYCLE.length]!;
  const asn = options.asn !== undefined ? options.asn : ASNS[i % ASNS.length]!;
  const cc = options.cc !== undefined ? options.cc : asn === null ? null : 'KZ';
  const probeId = options.probeId ?? `probe-${String(i % 7).padStart(4, '0')}`;
  const tcpOk = verdict.verdict === 'ok' || verdict.verdict === 'tls.reset';
  const measurement: Measurement = {
    schema: MEASUREMENT_SCHEMA,
    id: ulid(started),
    probe: { id: probeId, asn, cc, network: asn === null ? null : `AS${asn}`, software: { name: 'ashyq-probe', version: '0.1.0' } },
    target: { id: target.id, category: target.category },
    started_at: options.startedAt ?? new Date(started).toISOString(),
    runtime_ms: 800 + (i % 13),
    evidence: {
      dns: [],
      tcp: [
        {
          domain: `www.${target.id}.com`,
          ip: '192.0.2.10',
          port: 443,
          rtt_ms: tcpOk ? 20 + (i % 5) + 0.25 : null,
          failure: tcpOk ? null : 'generic_timeout_error',
          operation: tcpOk ? null : 'connect',
          error: tcpOk ? null : 'connect ETIMEDOUT',
        },
      ],
      tls: [],
      http: [],
    },
    timing: { dns: 10, tcp: 20, tls: 30, http: 40 },
    verdict,
  };
  return {
    received_at: new Date(started + 5000).toISOString(),
    probe_id: probeId,
    asn,
    cc,
    network: measurement.probe.network,
    measurement,
  };
}

export function makeRecords(n: number, options: RecordOptions, from = 0): ArchivedRecord[] {
  return Array.from({ length: n }, (_, k) => makeRecord(from + k, options));
}

/** Verdict → whether the sink must write blocked=1. */
export function blockedOf(verdict: Verdict): 0 | 1 {
  return verdict === 'ok' || verdict === 'down' || verdict === 'offline' || verdict === 'inconclusive' ? 0 : 1;
}

/**
 * An archive in memory: `records` may grow while a sink follows it. Cursor = { segment: 'mem',
 * offset: index of the next record }. Counts how often it was opened.
 */
export class MemoryArchive {
  readonly records: ArchivedRecord[] = [];
  opens = 0;
  /** Records yielded over all reads. */
  yielded = 0;

  append(records: ArchivedRecord[]): void {
    this.records.push(...records);
  }

  readonly source: ArchiveSource = (from?: ArchiveCursor) => this.read(from);

  private async *read(from?: ArchiveCursor): AsyncIterable<{ record: ArchivedRecord; next: ArchiveCursor }> {
    this.opens++;
    for (let i = from?.offset ?? 0; i < this.records.length; i++) {
      this.yielded++;
      yield { record: this.records[i]!, next: { segment: 'mem', offset: i + 1 } };
    }
  }
}
