// Batch ingest: authenticate, decompress, validate each item, deduplicate, archive (fsync), index, then answer.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import type { Clock } from '../probe/deps.js';
import type { Target } from '../probe/target.js';
import {
  HEADER_PROBE,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  PROBE_ID_PATTERN,
  verifyBatch,
  type BatchAnswer,
  type BatchErrorCode,
  type ErrorAnswer,
  type ItemResult,
  type SpoolOverflowReport,
} from '../probe/upload/wire.js';
import type { Archive, ArchivedRecord } from './archive.js';
import type { AsnInfo, AsnLookup } from './asn.js';
import type { Limits } from './config.js';
import type { Metrics } from './metrics.js';
import { RateLimiter } from './rate-limit.js';
import { ReplayCache } from './replay.js';
import type { Store } from './store.js';
import { validateMeasurement, validateSpoolOverflow } from './validate.js';

const gunzip = promisify(gunzipCallback);
const utf8 = new TextDecoder('utf-8', { fatal: true });

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
  /** Called after accepted measurements are durable and indexed (wakes the time-series sinks). */
  onAccepted?: () => void;
  log?: IngestLog;
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
  bad_signature: 401,
  timestamp_skew: 401,
  replay: 409,
  rate_limited: 429,
  archive_unavailable: 503,
};

export function batchErrorStatus(code: BatchErrorCode): number {
  return STATUS[code];
}

/** Runs async sections one at a time: dedup check, append and index must not interleave. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export class Ingest {
  private readonly replay = new ReplayCache();
  private readonly rate: RateLimiter;
  private readonly keys = new Map<string, KeyObject>();
  private readonly mutex = new Mutex();

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
    const { limits, clock, store, archive, metrics } = this.deps;
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
    const verdict = verifyBatch(this.publicKey(probe.id, probe.public_key), req.headers, req.body, now, skewMs);
    if (!verdict.ok) return this.fail(verdict.reason, verdict.message);
    const signature = header(req.headers, HEADER_SIGNATURE)!;
    if (this.replay.has(signature, now)) return this.fail('replay', 'this signed request was already received');
    const allowed = this.rate.take(probe.id);
    if (!allowed.ok) {
      return this.fail('rate_limited', `too many uploads from this probe; retry in ${allowed.retryAfterS} s`, { 'retry-after': String(allowed.retryAfterS) });
    }
    this.replay.remember(signature, Number(header(req.headers, HEADER_TIMESTAMP)) + skewMs, now);

    let json: Buffer;
    try {
      json = await gunzip(req.body, { maxOutputLength: limits.max_json_bytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        return this.fail('too_large', `the decompressed batch exceeds ${limits.max_json_bytes} bytes`);
      }
      return this.fail('bad_gzip', `the body is not valid gzip (${(err as Error).message})`);
    }
    let batch: unknown;
    try {
      batch = JSON.parse(utf8.decode(json));
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
    const looked = this.lookup(req.ip);
    const ctx = {
      now,
      maxAgeMs: limits.max_age_s * 1000,
      maxFutureMs: limits.max_future_s * 1000,
      targets: this.deps.targets,
      signer: probe.id,
    };
    const results: ItemResult[] = new Array(items.length);
    const candidates: Array<{ index: number; record: ArchivedRecord }> = [];
    items.forEach((item, index) => {
      const v = validateMeasurement(item, ctx);
      if (!v.ok) {
        results[index] = { index, id: v.id, status: 'rejected', code: v.code, reason: v.reason };
        return;
      }
      const m = v.measurement;
      const fromConnection = looked !== null && looked.asn !== null;
      candidates.push({
        index,
        record: {
          received_at: receivedAt,
          probe_id: probe.id,
          asn: fromConnection ? looked.asn : m.probe.asn,
          cc: fromConnection ? looked.cc : m.probe.cc,
          network: fromConnection ? looked.network : m.probe.network,
          measurement: m,
        },
      });
    });

    try {
      await this.mutex.run(async () => {
        const fresh: ArchivedRecord[] = [];
        const inBatch = new Set<string>();
        for (const { index, record } of candidates) {
          const id = record.measurement.id;
          if (inBatch.has(id) || store.hasMeasurement(id)) {
            results[index] = { index, id, status: 'duplicate' };
            continue;
          }
          inBatch.add(id);
          fresh.push(record);
          results[index] = { index, id, status: 'accepted' };
        }
        if (fresh.length > 0) {
          await archive.append(fresh);
          store.apply(fresh, archive.position());
        }
        if (overflow !== null && store.recordSpoolOverflow(probe.id, overflow, receivedAt) > 0) {
          metrics.setSpoolOverflow(store.spoolOverflowTotals());
          this.deps.log?.warn(
            { dropped: overflow.dropped, first_dropped_at: overflow.first_dropped_at, last_dropped_at: overflow.last_dropped_at },
            'a probe reports measurements its full spool dropped',
          );
        }
        store.touchProbe(probe.id, receivedAt);
      });
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
    if (accepted > 0) this.deps.onAccepted?.();
    return { status: 200, body: { results } };
  }
}
