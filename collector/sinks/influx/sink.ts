// The InfluxDB time-series sink: takes archived records handed over by the server or reads them from the archive, and writes them in batches, lossless across outages.
import { systemClock, type Clock } from '../../../common/clock.js';
import { InvalidArgumentError } from '../../../common/errors.js';
import { ArchiveTail, type ArchiveSource } from '../../pipeline/archive-tail.js';
import { CursorFile } from '../../pipeline/cursor.js';
import type { Follower } from '../../pipeline/follower.js';
import { Wakeup } from '../../pipeline/wakeup.js';
import type { AppendedSpan, ArchiveCursor, ArchivedRecord } from '../../storage/archive.js';
import { retryDelay } from './backoff.js';
import { Delivery, type DeliveryLogger } from './delivery.js';
import { ReachabilityLines } from './line.js';
import { InfluxWriter, type LineWriter } from './writer.js';
import { Sleeps } from '../../../common/sleeps.js';
export type SinkLogger = DeliveryLogger;

export interface InfluxSinkOptions {
  /** Base URL of a server speaking the InfluxDB v2 write API. */
  url: string;
  token: string;
  org: string;
  bucket: string;
  /** Directory of the sink's state (its cursor file). */
  stateDir: string;
  source: ArchiveSource;
  clock?: Clock;
  logger?: SinkLogger;
  /** Most points (records) in one write request. Default 5000. */
  batchSize?: number;
  /**
   * How long a partly filled batch may wait for more records before it is written, and how often
   * the archive is looked at when neither `offer()` nor `notify()` is called. Default 1000 ms.
   */
  flushIntervalMs?: number;
  /** Cap of the retry delay during an outage. Default 30 000 ms. */
  maxRetryDelayMs?: number;
  /** First retry delay (doubling up to the cap, with jitter). Default 250 ms. */
  initialRetryDelayMs?: number;
  /** Per-request timeout. Default 10 000 ms. */
  timeoutMs?: number;
  /**
   * Most records held in memory (handed over or read, waiting or being written); past it, handoffs
   * are declined and the records are read from the archive later. Default (maxInFlight + 2) × batchSize.
   */
  maxQueuedRecords?: number;
  /** Most write requests at once (one while the server is failing). Default 4. */
  maxInFlight?: number;
  /** Gzip request bodies (for a server across a real network; on loopback it costs both sides CPU). Default false. */
  gzip?: boolean;
  /** Uniform [0, 1) for the retry jitter. Default Math.random. */
  random?: () => number;
  /** Name of the cursor file in stateDir (`<name>.cursor.json`). Default "influx". */
  cursorName?: string;
  /** Replaces the HTTP writer (tests). */
  writer?: LineWriter;
}

export interface SinkStats {
  /** Records acknowledged by the server since start. */
  written: number;
  /** Lines the server refused as data (logged with its reason; they remain in the archive). */
  rejected: number;
  /** Records whose conversion to line protocol failed (logged; they remain in the archive). */
  unconvertible: number;
  /** Failed write attempts since start. */
  failedAttempts: number;
  /** Records taken from the server's handoff, and records read from the archive, since start. */
  handedOver: number;
  readFromArchive: number;
  /** Handoffs declined (behind, queue full, or not contiguous): those records came from the archive. */
  declinedOffers: number;
  /** The last failure, or null once a write succeeded after it. */
  lastError: string | null;
  /** Wall time (clock.now) when the current run of failures began, or null. */
  failingSince: number | null;
  /** The position after the last acknowledged record (persisted), or null before the first. */
  cursor: ArchiveCursor | null;
}

/** A write request under way; slots are committed (cursor saved) strictly in order. */
interface InFlight {
  records: number;
  next: ArchiveCursor;
  state: 'writing' | 'done' | 'stopped';
}

function consoleLogger(): SinkLogger {
  return {
    info: (m) => console.info(`influx sink: ${m}`),
    warn: (m) => console.warn(`influx sink: ${m}`),
    error: (m) => console.error(`influx sink: ${m}`),
  };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(`InfluxSink: ${name} must be a positive number, got ${value}`);
  return v;
}

/**
 * Writes the archive's records as `reachability` points to InfluxDB.
 *
 * Where records come from is the {@link ArchiveTail}'s: handoffs from the server while the sink keeps
 * up, the archive read from the sink's position when it falls behind, always in archive order.
 *
 * Invariant: the persisted cursor only moves past records the server acknowledged (HTTP 2xx), in
 * archive order (requests may be in flight at once, but a cursor is saved only once every request
 * before it was acknowledged), and it is written atomically after the acknowledgement. Nothing
 * unacknowledged lives only in memory: it is in the archive, and the sink reads it from there after
 * a restart. During an outage the sink retries with capped exponential backoff and jitter.
 * Delivery is at-least-once: a batch acknowledged by the server whose cursor was not yet saved
 * (crash, an answer lost in the outage, or a later batch acknowledged before an earlier one failed)
 * is written again. That is harmless: a point's identity is measurement + tags + timestamp, the
 * timestamp is derived from the measurement itself (line.ts: started_at plus a tiebreak from the
 * measurement id), so the replayed point overwrites its earlier copy (InfluxDB) or is deduplicated
 * (VictoriaMetrics with `-dedup.minScrapeInterval=1ms`); two different measurements do not share an
 * identity.
 *
 * Writing one batch, with its retries and the isolation of refused lines, is {@link Delivery}'s.
 */
export class InfluxSink implements Follower {
  readonly name = 'influx';

  private readonly clock: Clock;
  private readonly logger: SinkLogger;
  private readonly writer: LineWriter;
  private readonly delivery: Delivery;
  private readonly tail: ArchiveTail<string[]>;
  private readonly cursorFile: CursorFile;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly initialRetryDelayMs: number;
  private readonly maxInFlight: number;
  private readonly random: () => number;
  private readonly lines = new ReachabilityLines();

  private running = false;
  private loops: Promise<void> | null = null;
  private readonly writerWake = new Wakeup();
  /** Retry and backoff sleeps (several deliveries may sleep at once); stop() ends them all. */
  private readonly sleeps = new Sleeps();

  /** Position after the last acknowledged record (persisted), undefined = archive start. */
  private acked: ArchiveCursor | undefined;
  /** Write requests under way, oldest first, and the records they carry. */
  private readonly inFlight: InFlight[] = [];
  private readonly deliveries = new Set<Promise<void>>();
  private committing = false;
  private commitAgain = false;
  private commits: Promise<void> = Promise.resolve();
  private readonly counters = { written: 0, unconvertible: 0 };

  constructor(options: InfluxSinkOptions) {
    for (const key of ['url', 'org', 'bucket', 'stateDir'] as const) {
      if (typeof options[key] !== 'string' || options[key] === '') throw new InvalidArgumentError(`InfluxSink: ${key} is required`);
    }
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? consoleLogger();
    this.batchSize = Math.floor(positive('batchSize', options.batchSize, 5000));
    this.flushIntervalMs = positive('flushIntervalMs', options.flushIntervalMs, 1000);
    this.maxRetryDelayMs = positive('maxRetryDelayMs', options.maxRetryDelayMs, 30_000);
    this.initialRetryDelayMs = Math.min(positive('initialRetryDelayMs', options.initialRetryDelayMs, 250), this.maxRetryDelayMs);
    this.maxInFlight = Math.floor(positive('maxInFlight', options.maxInFlight, 4));
    const maxQueued = Math.floor(positive('maxQueuedRecords', options.maxQueuedRecords, (this.maxInFlight + 2) * this.batchSize));
    this.random = options.random ?? Math.random;
    this.cursorFile = new CursorFile(options.stateDir, options.cursorName ?? 'influx');
    this.writer =
      options.writer ??
      new InfluxWriter({
        url: options.url,
        token: options.token,
        org: options.org,
        bucket: options.bucket,
        timeoutMs: positive('timeoutMs', options.timeoutMs, 10_000),
        gzip: options.gzip ?? false,
        connections: this.maxInFlight,
      });
    this.delivery = new Delivery({
      writer: this.writer,
      clock: this.clock,
      logger: this.logger,
      delay: (attempt) => this.delay(attempt),
      maxRetryDelayMs: this.maxRetryDelayMs,
      running: () => this.running,
      sleep: (ms) => this.sleeps.sleep(ms),
      onRecovered: () => this.writerWake.signal(), // all slots again
    });
    this.tail = new ArchiveTail<string[]>({
      source: options.source,
      clock: this.clock,
      maxHeld: maxQueued,
      batchSize: this.batchSize,
      pollMs: this.flushIntervalMs,
      prepare: (records, next) => this.convert(records, next),
      wake: () => this.writerWake.signal(),
      delay: (attempt) => this.delay(attempt),
      logError: (m) => this.logger.error(m),
    });
  }

  /** Begin following the archive from the persisted cursor (idempotent); resolves at once, the loops run in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.tail.start();
    this.loops = Promise.all([this.readLoop(), this.writeLoop()]).then(() => undefined);
  }

  /** New records were archived: look at the archive now rather than at the next poll. */
  notify(): void {
    this.tail.notify();
  }

  /** Forget the cursor (only while stopped): the next start writes the whole archive again, which overwrites itself. */
  async rewind(): Promise<void> {
    if (this.running) throw new InvalidArgumentError('InfluxSink: rewind only while stopped');
    await this.cursorFile.remove();
    this.acked = undefined;
    this.tail.reset();
  }

  /** The server's handoff (see {@link ArchiveTail.offer}). */
  offer(records: readonly ArchivedRecord[], span: AppendedSpan): boolean {
    return this.tail.offer(records, span);
  }

  /** Records in the archive after the cursor that the server has not acknowledged yet (as far as known). */
  backlog(): number {
    return this.tail.backlog();
  }

  /**
   * Resolves true once every record archived before the call has been acknowledged by the server
   * (a read pass that began after the call found nothing more and the backlog is zero), false when
   * the sink stops first. While someone waits here, a partial batch is written as soon as the
   * reader has nothing more, instead of after flushIntervalMs. For shutdown, tests and benchmarks;
   * it waits through an outage.
   */
  drain(): Promise<boolean> {
    if (!this.running) return Promise.resolve(false);
    return this.tail.drain();
  }

  stats(): SinkStats {
    const d = this.delivery;
    return {
      ...this.counters,
      ...this.tail.counters,
      rejected: d.rejected,
      failedAttempts: d.failedAttempts,
      lastError: d.lastError,
      failingSince: d.failingSince,
      cursor: this.acked === undefined ? null : { ...this.acked },
    };
  }

  /** Stop reading and retrying; writes in flight are awaited (and the cursor saved as far as they were acknowledged in order). */
  async stop(): Promise<void> {
    if (!this.running) {
      await this.loops;
      return;
    }
    this.running = false;
    this.tail.stop();
    this.writerWake.signal();
    this.sleeps.wakeAll();
    await this.loops;
    while (this.deliveries.size > 0) await Promise.all([...this.deliveries]);
    await this.commits;
    this.writer.close?.();
    this.tail.settle();
  }

  private delay(attempt: number): number {
    return retryDelay(attempt, {
      initialMs: this.initialRetryDelayMs,
      maxMs: this.maxRetryDelayMs,
      factor: 2,
      random: this.random,
    });
  }

  // ---- reading: the cursor, then the tail ------------------------------------------------------

  /** Load the persisted cursor (retrying a file that cannot be read), then follow the archive from it. */
  private async readLoop(): Promise<void> {
    let attempt = 0;
    while (this.running) {
      try {
        const stored = await this.cursorFile.load();
        if (stored.kind === 'unreadable') {
          this.logger.warn(`${this.cursorFile.file} is unreadable (${stored.problem}): starting from the archive's beginning (replay is idempotent)`);
        }
        this.acked = stored.kind === 'cursor' ? stored.cursor : undefined;
        break;
      } catch (err) {
        attempt++;
        this.logger.error(`cannot read ${this.cursorFile.file}: ${(err as Error).message}`);
        await this.sleeps.sleep(this.delay(attempt));
      }
    }
    await this.tail.run(this.acked);
  }

  private convert(records: readonly ArchivedRecord[], next: ArchiveCursor): string[] {
    const out: string[] = [];
    for (const record of records) {
      try {
        out.push(this.lines.line(record));
      } catch (err) {
        this.counters.unconvertible++;
        this.logger.error(`record before ${next.segment}@${next.offset} (or in the handoff ending there) skipped: ${(err as Error).message}`);
      }
    }
    return out;
  }

  // ---- writing -------------------------------------------------------------------------------

  /** Requests allowed at once: one while the server fails (it probes; the rest wait), else maxInFlight. */
  private slots(): number {
    return this.delivery.failingSince === null ? this.maxInFlight : 1;
  }

  private async writeLoop(): Promise<void> {
    const tail = this.tail;
    while (this.running) {
      if (!tail.ready() || tail.oldestAt() === null || this.inFlight.length >= this.slots()) {
        await this.writerWake.wait(this.flushIntervalMs);
        continue;
      }
      if (tail.queued() < this.batchSize && !tail.flushWanted()) {
        const age = this.clock.monotonic() - tail.oldestAt()!;
        if (age < this.flushIntervalMs) {
          await this.writerWake.wait(this.flushIntervalMs - age);
          const oldest = tail.oldestAt();
          if (oldest === null) continue;
          if (tail.queued() < this.batchSize && !tail.flushWanted() && this.clock.monotonic() - oldest < this.flushIntervalMs) continue;
        }
      }
      if (!this.running) break;
      if (this.inFlight.length >= this.slots()) continue;
      const taken = tail.take(this.batchSize);
      if (taken === null) continue;
      const lines: string[] = [];
      for (const value of taken.values) for (const l of value) lines.push(l);
      const slot: InFlight = { records: taken.records, next: taken.next, state: 'writing' };
      this.inFlight.push(slot);
      const delivery = this.delivery.deliver(lines).then(
        (delivered) => {
          slot.state = delivered ? 'done' : 'stopped';
          if (delivered) this.commit();
        },
        (err: unknown) => {
          // deliver() answers failures as data; this is a bug: keep the records unacknowledged.
          slot.state = 'stopped';
          this.logger.error(`writing a batch failed unexpectedly: ${(err as Error).message}`);
        },
      );
      const tracked = delivery.finally(() => this.deliveries.delete(tracked));
      this.deliveries.add(tracked);
    }
  }

  /** Save the cursor after the longest run of acknowledged requests at the head; one save at a time, coalesced. */
  private commit(): void {
    if (this.committing) {
      this.commitAgain = true;
      return;
    }
    this.committing = true;
    this.commits = (async () => {
      try {
        do {
          this.commitAgain = false;
          let last: InFlight | undefined;
          let records = 0;
          while (this.inFlight[0]?.state === 'done') {
            last = this.inFlight.shift()!;
            records += last.records;
          }
          if (last === undefined) continue;
          await this.saveCursor(last.next);
          this.counters.written += records;
          this.tail.acknowledge(records); // room in memory
          this.writerWake.signal(); // a free slot
        } while (this.commitAgain);
      } finally {
        this.committing = false;
      }
    })();
  }

  private async saveCursor(cursor: ArchiveCursor): Promise<void> {
    let attempt = 0;
    for (;;) {
      try {
        await this.cursorFile.save(cursor);
        this.acked = cursor;
        return;
      } catch (err) {
        // The points are written; without a saved cursor a restart would only replay them (harmless).
        attempt++;
        this.logger.error(`cannot save ${this.cursorFile.file}: ${(err as Error).message}`);
        if (!this.running) {
          this.acked = cursor;
          return;
        }
        await this.sleeps.sleep(this.delay(attempt));
      }
    }
  }
}
