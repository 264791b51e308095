// Batch ingest: authenticate, decompress, validate each item, deduplicate, archive (fsync), index, then answer.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import type { Clock } from '../../common/clock.js';
import type { Target } from '../../contract/target.js';
import {
  HEADER_PROBE,
  HEADER_ROUTE,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  PROBE_ID_PATTERN,
  verifyBatch,
  type BatchAnswer,
  type BatchErrorCode,
  type ErrorAnswer,
  type ItemResult,
  type SpoolOverflowReport,
} from '../../contract/wire.js';
import type { Archive, ArchivedRecord, CollectorJudgement } from '../storage/archive.js';
import { attribute, type AsnInfo, type AsnLookup } from './asn.js';
import type { Limits } from '../config.js';
import { measurementBytes, pairCount } from './json-slices.js';
import type { Metrics } from '../metrics.js';
import { RateLimiter } from './rate-limit.js';
import { ReplayCache } from './replay-cache.js';
import type { Store } from '../storage/store.js';
import { validateMeasurement, validateSpoolOverflow } from './validate.js';
import type { Measurement } from '../../contract/measurement.js';
import type { Pipeline } from '../pipeline/pipeline.js';

const gunzip = promisify(gunzipCallback);

export interface IngestRequest {
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The connection's address: looked up, never stored. */
  ip: string;
}

export interface IngestReply {
  status: number;
  body: BatchAnswer | ErrorAnswer;
  headers?: Record<string, string>;
}

export interface IngestLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface IngestDeps {
  limits: Limits;
  clock: Clock;
  store: Store;
  archive: Archive;
  targets: ReadonlyMap<string, Target>;
  metrics: Metrics;
  lookup?: AsnLookup;
  /** The followers of the archive: the store's index first (a batch is answered once indexed), then the others. */
  pipeline: Pipeline;
  log?: IngestLog;
  /** Told of a spool-overflow report with new drops, as the store now keeps it, with the network of its batch. */
  onSpoolOverflow?: (overflow: { probe_id: string; asn: number | null; cc: string | null; report: SpoolOverflowReport }) => void;
  /**
   * The control vantage (collector/control/): judges each accepted measurement again with its
   * evidence (none: the probe's verdict stands), and takes the measurements of probes enrolled with
   * the control role, which never reach the probes' archive.
   */
  controls?: {
    judge(m: Measurement): CollectorJudgement | null;
    acceptFromProbe?(records: readonly ArchivedRecord[]): Promise<Array<'accepted' | 'duplicate'>>;
  };
}

/** The record's `collector` field, when a control judged the measurement. */
function judged(j: CollectorJudgement | null): { collector?: CollectorJudgement } {
  return j === null ? {} : { collector: j };
}

const STATUS: Record<BatchErrorCode, number> = {
  unsupported_media_type: 415,
  unsupported_encoding: 415,
  too_large: 413,
  too_many_items: 413,
  bad_gzip: 400,
  bad_json: 400,
  bad_batch: 400,
  missing_signature: 401,
  unknown_probe: 401,
  probe_revoked: 403,
  bad_signature: 401,
  timestamp_skew: 401,
  replay: 409,
  rate_limited: 429,
  archive_unavailable: 503,
};

/** One authenticated, validated batch waiting for the group commit. */
interface PendingBatch {
  probeId: string;
  receivedAt: string;
  /** Valid items: where they are in the batch, the record to archive and the measurement's JSON as received (or null). */
  candidates: Array<{ index: number; record: ArchivedRecord; json: Buffer | null }>;
  results: ItemResult[];
  overflow: SpoolOverflowReport | null;
  done: (err?: unknown) => void;
}

/** Most measurements one group commit takes (the batches of a group are answered together). */
const MAX_GROUP_RECORDS = 4000;

/**
 * Output chunk for inflating a body: big enough that a usual batch comes out in one or two chunks
 * (each chunk is a round trip between the thread pool and the event loop), bounded by the limit.
 */
function inflateChunk(gzipBytes: number, maxJsonBytes: number): number {
  return Math.max(16 * 1024, Math.min(maxJsonBytes, 1024 * 1024, gzipBytes * 32));
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export class Ingest {
  private readonly replay = new ReplayCache();
  private readonly rate: RateLimiter;
  private readonly keys = new Map<string, KeyObject>();
  /** Batches waiting for the committer, and whether it runs: dedup, append and index never interleave. */
  private readonly pending: PendingBatch[] = [];
  private committing = false;

  constructor(private readonly deps: IngestDeps) {
    this.rate = new RateLimiter(deps.limits.rate_per_probe.per_minute, deps.limits.rate_per_probe.burst, deps.clock);
    deps.metrics.setSpoolOverflow(deps.store.spoolOverflowTotals());
  }

  private fail(code: BatchErrorCode, message: string, headers?: Record<string, string>): IngestReply {
    this.deps.metrics.countReject(code);
    this.deps.metrics.countBatch('error');
    return { status: STATUS[code], body: { error: { code, message } }, ...(headers ? { headers } : {}) };
  }

  private publicKey(probeId: string, pem: string): KeyObject {
    let key = this.keys.get(probeId);
    if (key === undefined) {
      key = createPublicKey(pem);
      this.keys.set(probeId, key);
    }
    return key;
  }

  private lookup(ip: string): AsnInfo | null {
    if (this.deps.lookup === undefined) return null;
    try {
      return this.deps.lookup(ip);
    } catch {
      return null;
    }
  }

  async handle(req: IngestRequest): Promise<IngestReply> {
    const { limits, clock, store, metrics } = this.deps;
    const now = clock.now();

    const encoding = header(req.headers, 'content-encoding')?.trim().toLowerCase();
    if (encoding !== 'gzip') return this.fail('unsupported_encoding', 'the body must be gzip with content-encoding: gzip');

    const probeId = header(req.headers, HEADER_PROBE);
    if (probeId === undefined || header(req.headers, HEADER_TIMESTAMP) === undefined || header(req.headers, HEADER_SIGNATURE) === undefined) {
      return this.fail('missing_signature', `${HEADER_PROBE}, ${HEADER_TIMESTAMP} and ${HEADER_SIGNATURE} are required`);
    }
    if (!PROBE_ID_PATTERN.test(probeId)) return this.fail('missing_signature', `${HEADER_PROBE} is not a probe id`);
    const probe = store.probe(probeId);
    if (probe === undefined) return this.fail('unknown_probe', 'no probe is registered with this id');

    const skewMs = limits.signature_skew_s * 1000;
    const check = verifyBatch(this.publicKey(probe.id, probe.public_key), req.headers, req.body, now, skewMs);
    if (!check.ok) return this.fail(check.reason, check.message);
    if (probe.revoked_at !== null) return this.fail('probe_revoked', `the operator revoked this probe at ${probe.revoked_at}: its uploads are refused`);
    const signature = header(req.headers, HEADER_SIGNATURE)!;
    if (this.replay.has(signature, now)) return this.fail('replay', 'this signed request was already received');
    const allowed = this.rate.take(probe.id);
    if (!allowed.ok) {
      return this.fail('rate_limited', `too many uploads from this probe; retry in ${allowed.retryAfterS} s`, { 'retry-after': String(allowed.retryAfterS) });
    }
    this.replay.remember(signature, Number(header(req.headers, HEADER_TIMESTAMP)) + skewMs, now);

    let json: Buffer;
    try {
      json = await gunzip(req.body, { maxOutputLength: limits.max_json_bytes, chunkSize: inflateChunk(req.body.length, limits.max_json_bytes) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        return this.fail('too_large', `the decompressed batch exceeds ${limits.max_json_bytes} bytes`);
      }
      return this.fail('bad_gzip', `the body is not valid gzip (${(err as Error).message})`);
    }
    let batch: unknown;
    try {
      if (!isUtf8(json)) throw new Error('not UTF-8');
      batch = JSON.parse(json.toString('utf8'));
    } catch (err) {
      return this.fail('bad_json', `the batch is not valid UTF-8 JSON (${(err as Error).message.slice(0, 120)})`);
    }
    if (typeof batch !== 'object' || batch === null || Array.isArray(batch)) return this.fail('bad_batch', '$: expected an object { probe_id, measurements }');
    const fields = batch as Record<string, unknown>;
    const extra = Object.keys(fields).find((k) => k !== 'probe_id' && k !== 'measurements' && k !== 'spool_overflow');
    if (extra !== undefined) return this.fail('bad_batch', `$: unknown key ${JSON.stringify(extra).slice(0, 60)}`);
    let overflow: SpoolOverflowReport | null = null;
    if (fields['spool_overflow'] !== undefined) {
      const checked = validateSpoolOverflow(fields['spool_overflow']);
      if (!checked.ok) return this.fail('bad_batch', checked.reason);
      overflow = checked.report;
    }
    if (fields['probe_id'] !== probe.id) return this.fail('bad_batch', `probe_id: must equal ${HEADER_PROBE}`);
    const items = fields['measurements'];
    if (!Array.isArray(items)) return this.fail('bad_batch', 'measurements: expected an array');
    if (items.length > limits.max_batch_items) {
      return this.fail('too_many_items', `measurements: ${items.length} items, at most ${limits.max_batch_items} per batch`);
    }

    const receivedAt = new Date(now).toISOString();
    // Through the volunteer's proxy the address is the proxy's: its network is not the probe's.
    const looked = header(req.headers, HEADER_ROUTE) === 'proxy' ? null : this.lookup(req.ip);
    const ctx = {
      now,
      maxAgeMs: limits.max_age_s * 1000,
      maxFutureMs: limits.max_future_s * 1000,
      targets: this.deps.targets,
      signer: probe.id,
    };
    const control = probe.role === 'control';
    const results: ItemResult[] = new Array(items.length);
    const candidates: PendingBatch['candidates'] = [];
    // The archive keeps each measurement's JSON as received (it parses to the validated value).
    const texts = measurementBytes(json, items.length);
    for (let index = 0; index < items.length; index++) {
      const v = validateMeasurement(items[index], ctx);
      if (!v.ok) {
        results[index] = { index, id: v.id, status: 'rejected', code: v.code, reason: v.reason };
        continue;
      }
      const m = v.measurement;
      const text = texts[index];
      candidates.push({
        index,
        record: {
          received_at: receivedAt,
          probe_id: probe.id,
          ...attribute(looked, m.probe),
          // Judged again with the nearest control of its target: both verdicts kept, this one used after the archive.
          ...(control ? {} : judged(this.deps.controls?.judge(m) ?? null)),
          measurement: m,
        },
        // Bytes with a key written twice hold a value validation never saw: serialise those instead.
        json: text != null && text.pairs === pairCount(m) ? text.json : null,
      });
    }

    try {
      if (control) await this.commitControl(probe.id, receivedAt, candidates, results);
      else await this.commit({ probeId: probe.id, receivedAt, candidates, results, overflow });
    } catch (err) {
      this.deps.log?.error({ err }, 'archiving a batch failed');
      return this.fail('archive_unavailable', 'the collector could not store the batch durably; retry later');
    }

    let accepted = 0;
    for (const r of results) {
      metrics.countItem(r.status, r.code);
      if (r.status === 'accepted') accepted++;
    }
    metrics.countBatch('ok');
    return { status: 200, body: { results } };
  }

  /** A control probe's batch: its measurements are the control's (archived apart), never a network's. */
  private async commitControl(probeId: string, receivedAt: string, candidates: PendingBatch['candidates'], results: ItemResult[]): Promise<void> {
    const accept = this.deps.controls?.acceptFromProbe;
    if (accept === undefined) throw new Error('a control probe uploaded, but this collector has no control stage');
    const statuses = await accept(candidates.map((c) => c.record));
    candidates.forEach((c, i) => (results[c.index] = { index: c.index, id: c.record.measurement.id, status: statuses[i]! }));
    this.deps.pipeline.index.touch(probeId, receivedAt);
    this.deps.pipeline.index.flush();
  }

  /**
   * Group commit: batches that arrive while a commit is under way wait and then go together, so
   * that one archive fsync and one store transaction cover all of them. Each batch still resolves
   * only after its records are fsynced and indexed, and fails whole when that failed.
   */
  private commit(batch: Omit<PendingBatch, 'done'>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ...batch, done: (err?: unknown) => (err === undefined ? resolve() : reject(err)) });
      if (!this.committing) void this.commitLoop();
    });
  }

  private async commitLoop(): Promise<void> {
    this.committing = true;
    try {
      while (this.pending.length > 0) {
        let take = 0;
        let records = 0;
        while (take < this.pending.length && (take === 0 || records + this.pending[take]!.candidates.length <= MAX_GROUP_RECORDS)) {
          records += this.pending[take]!.candidates.length;
          take++;
        }
        const group = this.pending.splice(0, take);
        try {
          await this.commitGroup(group);
        } catch (err) {
          for (const b of group) b.done(err);
          continue;
        }
        for (const b of group) b.done();
      }
    } finally {
      this.committing = false;
    }
  }

  private async commitGroup(group: PendingBatch[]): Promise<void> {
    const { store, archive, metrics } = this.deps;
    const fresh: ArchivedRecord[] = [];
    const freshJson: Array<Buffer | null> = [];
    const touches = new Map<string, string>();
    const ids: string[] = [];
    for (const b of group) for (const { record } of b.candidates) ids.push(record.measurement.id);
    // Ids indexed before (one query for the group), then each id of the group as it is taken.
    const seen = store.knownMeasurements(ids);
    for (const b of group) {
      touches.set(b.probeId, b.receivedAt);
      for (const { index, record, json } of b.candidates) {
        const id = record.measurement.id;
        if (seen.has(id)) {
          b.results[index] = { index, id, status: 'duplicate' };
          continue;
        }
        seen.add(id);
        fresh.push(record);
        freshJson.push(json);
        b.results[index] = { index, id, status: 'accepted' };
      }
    }
    const { pipeline } = this.deps;
    for (const [probeId, at] of touches) pipeline.index.touch(probeId, at);
    if (fresh.length > 0) {
      const span = await archive.append(fresh, freshJson);
      pipeline.offer(fresh, span);
    } else {
      pipeline.index.flush();
    }
    for (const b of group) {
      if (b.overflow !== null && store.recordSpoolOverflow(b.probeId, b.overflow, b.receivedAt) > 0) {
        metrics.setSpoolOverflow(store.spoolOverflowTotals());
        this.deps.log?.warn(
          { dropped: b.overflow.dropped, first_dropped_at: b.overflow.first_dropped_at, last_dropped_at: b.overflow.last_dropped_at },
          'a probe reports measurements its full spool dropped',
        );
        const kept = store.spoolOverflow(b.probeId, b.overflow.first_dropped_at);
        const network = b.candidates[0]?.record;
        if (kept !== null) this.deps.onSpoolOverflow?.({ probe_id: b.probeId, asn: network?.asn ?? null, cc: network?.cc ?? null, report: kept });
      }
    }
  }
}
