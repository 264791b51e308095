// The InfluxDB time-series sink: follows the archive from a persisted cursor and writes it in batches, lossless across outages.
import { systemClock, type Clock } from '../../probe/deps.js';
import { InvalidArgumentError } from '../../probe/errors.js';
import type { ArchiveCursor, ArchivedRecord } from '../archive.js';
import { retryDelay } from './backoff.js';
import { compareCursors, CursorFile } from './cursor.js';
import { toLines } from './line.js';
import { Wakeup } from './wakeup.js';
import { InfluxWriter, type LineWriter, type WriteOutcome } from './writer.js';

export interface SinkLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Reads the archive from a position (or its start): every complete record with the position after it. */
export type ArchiveSource = (from?: ArchiveCursor) => AsyncIterable<{ record: ArchivedRecord; next: ArchiveCursor }>;

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
  /** Most lines in one write request. Default 5000. */
  batchSize?: number;
  /**
   * How long a partly filled batch may wait for more records before it is written, and how often
   * the archive is looked at when `notify()` is not called. Default 1000 ms.
   */
  flushIntervalMs?: number;
  /** Cap of the retry delay during an outage. Default 30 000 ms. */
  maxRetryDelayMs?: number;
  /** First retry delay (doubling up to the cap, with jitter). Default 250 ms. */
  initialRetryDelayMs?: number;
  /** Per-request timeout. Default 10 000 ms. */
  timeoutMs?: number;
  /** Most records converted and held in memory ahead of the writes. Default 4 × batchSize. */
  maxQueuedRecords?: number;
  /** Uniform [0, 1) for the retry jitter. Default Math.random. */
  random?: () => number;
  /** Name of the cursor file in stateDir (`<name>.cursor.json`). Default "influx". */
  cursorName?: string;
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
  /** The last failure, or null once a write succeeded after it. */
  lastError: string | null;
  /** Wall time (clock.now) when the current run of failures began, or null. */
  failingSince: number | null;
  /** The position after the last acknowledged record (persisted), or null before the first. */
  cursor: ArchiveCursor | null;
}

interface Queued {
  lines: string[];
  next: ArchiveCursor;
  /** clock.monotonic() when read. */
  at: number;
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
 * Follows the archive and writes `reachability` points to InfluxDB.
 *
 * Invariant: the persisted cursor only moves past records the server acknowledged (HTTP 2xx), and
 * it is written atomically after the acknowledgement. Nothing unacknowledged lives only in memory:
 * during an outage the sink retries with capped exponential backoff and jitter, and after a restart
 * it resumes from the cursor. Delivery is therefore at-least-once: a batch acknowledged by the server
 * whose cursor was not yet saved (crash, or an answer lost in the outage) is written again. That is
 * harmless: a point's identity is measurement + tags + timestamp, the timestamp is derived from the
 * measurement itself (line.ts: started_at plus a tiebreak from the measurement id), so the replayed
 * point overwrites its earlier copy (InfluxDB) or is deduplicated (VictoriaMetrics with
 * `-dedup.minScrapeInterval=1ms`); two different measurements do not share an identity.
 *
 * Lines the server refuses as data (400-class answers) are isolated by splitting the batch, logged
 * and skipped, so that one bad point cannot stall the sink; 401/403/404 (wrong token, org or bucket)
 * are retried like an outage, because an operator can fix them and nothing must be lost meanwhile.
 */
export class InfluxSink {
  readonly name = 'influx';

  private readonly clock: Clock;
  private readonly logger: SinkLogger;
  private readonly source: ArchiveSource;
  private readonly writer: LineWriter;
  private readonly cursorFile: CursorFile;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly initialRetryDelayMs: number;
  private readonly maxQueued: number;
  private readonly random: () => number;

  private running = false;
  private loops: Promise<void> | null = null;
  private readonly readerWake = new Wakeup();
  private readonly writerWake = new Wakeup();
  private readonly retryWake = new Wakeup();
  /** Only stop() and drain() cut this short. */
  private readonly pause = new Wakeup();

  /** Position after the last acknowledged record (persisted), undefined = archive start. */
  private acked: ArchiveCursor | undefined;
  private loaded = false;
  /** Records read and converted, waiting to be written (in archive order). */
  private readonly queue: Queued[] = [];
  private queuedLines = 0;
  /** Position after the last queued record. */
  private readFrom: ArchiveCursor | undefined;
  /** Position after the last counted record (≥ readFrom): records between them are counted, not queued. */
  private scanFrom: ArchiveCursor | undefined;
  /** Records after `acked` known to be in the archive. */
  private known = 0;
  private readonly counters: Omit<SinkStats, 'cursor' | 'lastError' | 'failingSince'> = {
    written: 0,
    rejected: 0,
    unconvertible: 0,
    failedAttempts: 0,
  };
  private lastError: string | null = null;
  private failingSince: number | null = null;
  /** drain(): tickets handed out, the ticket of the last completed read pass, and who waits. */
  private drainTickets = 0;
  private passedTicket = 0;
  private readonly drainWaiters: Array<{ ticket: number; resolve: (done: boolean) => void }> = [];
  /** A read pass is under way (more records may be queued any moment). */
  private reading = false;

  constructor(options: InfluxSinkOptions) {
    for (const key of ['url', 'org', 'bucket', 'stateDir'] as const) {
      if (typeof options[key] !== 'string' || options[key] === '') throw new InvalidArgumentError(`InfluxSink: ${key} is required`);
    }
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? consoleLogger();
    this.source = options.source;
    this.batchSize = Math.floor(positive('batchSize', options.batchSize, 5000));
    this.flushIntervalMs = positive('flushIntervalMs', options.flushIntervalMs, 1000);
    this.maxRetryDelayMs = positive('maxRetryDelayMs', options.maxRetryDelayMs, 30_000);
    this.initialRetryDelayMs = Math.min(positive('initialRetryDelayMs', options.initialRetryDelayMs, 250), this.maxRetryDelayMs);
    this.maxQueued = Math.floor(positive('maxQueuedRecords', options.maxQueuedRecords, 4 * this.batchSize));
    this.random = options.random ?? Math.random;
    this.cursorFile = new CursorFile(options.stateDir, options.cursorName ?? 'influx');
    this.writer = new InfluxWriter({
      url: options.url,
      token: options.token,
      org: options.org,
      bucket: options.bucket,
      timeoutMs: positive('timeoutMs', options.timeoutMs, 10_000),
    });
  }

  /** Begin following the archive from the persisted cursor (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Promise.all([this.readLoop(), this.writeLoop()]).then(() => undefined);
  }

  /** New records were archived: look at the archive now rather than at the next poll. */
  notify(): void {
    this.readerWake.signal();
  }

  /** Records in the archive after the cursor that the server has not acknowledged yet (as far as read). */
  backlog(): number {
    return this.known;
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
    const ticket = ++this.drainTickets;
    this.readerWake.signal();
    this.pause.signal();
    return new Promise((resolve) => {
      this.drainWaiters.push({ ticket, resolve });
      this.settleDrains();
    });
  }

  private settleDrains(): void {
    for (let i = this.drainWaiters.length - 1; i >= 0; i--) {
      const waiter = this.drainWaiters[i]!;
      if (!this.running) waiter.resolve(false);
      else if (this.passedTicket >= waiter.ticket && this.known === 0) waiter.resolve(true);
      else continue;
      this.drainWaiters.splice(i, 1);
    }
  }

  stats(): SinkStats {
    return {
      ...this.counters,
      lastError: this.lastError,
      failingSince: this.failingSince,
      cursor: this.acked === undefined ? null : { ...this.acked },
    };
  }

  /** Stop reading and retrying; a write in flight is awaited (and its cursor saved when acknowledged). */
  async stop(): Promise<void> {
    if (!this.running) {
      await this.loops;
      return;
    }
    this.running = false;
    this.readerWake.signal();
    this.writerWake.signal();
    this.retryWake.signal();
    this.pause.signal();
    await this.loops;
    this.settleDrains();
  }

  // ---- reading -------------------------------------------------------------------------------

  private async load(): Promise<void> {
    let attempt = 0;
    while (this.running && !this.loaded) {
      try {
        const stored = await this.cursorFile.load();
        if (stored.kind === 'unreadable') {
          this.logger.warn(`${this.cursorFile.file} is unreadable (${stored.problem}): starting from the archive's beginning (replay is idempotent)`);
        }
        this.acked = stored.kind === 'cursor' ? stored.cursor : undefined;
        this.readFrom = this.acked;
        this.scanFrom = this.acked;
        this.loaded = true;
        this.writerWake.signal();
      } catch (err) {
        attempt++;
        this.logger.error(`cannot read ${this.cursorFile.file}: ${(err as Error).message}`);
        await this.retryWake.wait(this.delay(attempt));
      }
    }
  }

  private async readLoop(): Promise<void> {
    await this.load();
    let failures = 0;
    while (this.running) {
      try {
        const ticket = this.drainTickets;
        this.reading = true;
        try {
          await this.readPass();
        } finally {
          this.reading = false;
        }
        this.passedTicket = ticket;
        this.settleDrains();
        if (this.drainWaiters.length > 0) this.writerWake.signal();
        failures = 0;
      } catch (err) {
        failures++;
        this.logger.error(`reading the archive failed: ${(err as Error).message}`);
        await this.readerWake.wait(this.delay(failures));
        continue;
      }
      const passEnded = this.clock.monotonic();
      await this.readerWake.wait(this.flushIntervalMs);
      // Under a stream of notifications, gather them: one pass per gap rather than one per upload
      // (each pass reopens the archive). Writes are batched over flushIntervalMs anyway.
      const gap = Math.min(100, this.flushIntervalMs / 4) - (this.clock.monotonic() - passEnded);
      if (gap > 0 && this.running && this.drainWaiters.length === 0) await this.pause.wait(gap);
    }
  }

  private convert(record: ArchivedRecord, next: ArchiveCursor): string[] {
    try {
      return toLines(record);
    } catch (err) {
      this.counters.unconvertible++;
      this.logger.error(`record before ${next.segment}@${next.offset} skipped: ${(err as Error).message}`);
      return [];
    }
  }

  private isNew(next: ArchiveCursor): boolean {
    return this.scanFrom === undefined || compareCursors(next, this.scanFrom) > 0;
  }

  private countNew(next: ArchiveCursor): void {
    this.known++;
    this.scanFrom = next;
  }

  /**
   * Queue records after `readFrom` while there is room; past that, keep counting (without holding
   * them) so that backlog() stays exact during a long outage. Counted-but-unqueued records are read
   * again when room frees up; counting resumes from `scanFrom`, so no record is counted twice.
   */
  private async readPass(): Promise<void> {
    let countFromScan = this.queue.length >= this.maxQueued;
    if (!countFromScan) {
      let counting = false;
      for await (const { record, next } of this.source(this.readFrom)) {
        if (!this.running) return;
        const fresh = this.isNew(next);
        if (!counting && this.queue.length < this.maxQueued) {
          const lines = this.convert(record, next);
          const wasEmpty = this.queue.length === 0;
          const below = this.queuedLines < this.batchSize;
          this.queue.push({ lines, next, at: this.clock.monotonic() });
          this.queuedLines += lines.length;
          this.readFrom = next;
          if (fresh) this.countNew(next);
          if (wasEmpty || (below && this.queuedLines >= this.batchSize)) this.writerWake.signal();
          continue;
        }
        if (!fresh) {
          // The queue is full and what follows, up to scanFrom, is counted already: count on from there.
          countFromScan = true;
          break;
        }
        counting = true; // the queue is full: keep counting to the end with this same iteration
        this.countNew(next);
      }
    }
    if (!countFromScan) return;
    for await (const { next } of this.source(this.scanFrom)) {
      if (!this.running) return;
      if (this.isNew(next)) this.countNew(next);
    }
  }

  // ---- writing -------------------------------------------------------------------------------

  /** A partial batch goes out at once when someone waits in drain() and the reader has nothing more right now. */
  private flushNow(): boolean {
    return this.drainWaiters.length > 0 && !this.reading;
  }

  private delay(attempt: number): number {
    return retryDelay(attempt, {
      initialMs: this.initialRetryDelayMs,
      maxMs: this.maxRetryDelayMs,
      factor: 2,
      random: this.random,
    });
  }

  private async writeLoop(): Promise<void> {
    while (this.running) {
      if (!this.loaded || this.queue.length === 0) {
        await this.writerWake.wait(this.flushIntervalMs);
        continue;
      }
      if (this.queuedLines < this.batchSize && !this.flushNow()) {
        const age = this.clock.monotonic() - this.queue[0]!.at;
        if (age < this.flushIntervalMs) {
          await this.writerWake.wait(this.flushIntervalMs - age);
          if (this.queuedLines < this.batchSize && !this.flushNow() && this.clock.monotonic() - this.queue[0]!.at < this.flushIntervalMs) continue;
        }
      }
      if (!this.running) break;
      let count = 0;
      let lines = 0;
      const batch: string[] = [];
      while (count < this.queue.length) {
        const entry = this.queue[count]!;
        if (count > 0 && lines + entry.lines.length > this.batchSize) break;
        for (const l of entry.lines) batch.push(l);
        lines += entry.lines.length;
        count++;
      }
      const delivered = await this.deliver(batch);
      if (!delivered) break; // stopping with the batch unacknowledged: it stays after the cursor
      const last = this.queue[count - 1]!;
      await this.saveCursor(last.next);
      this.queue.splice(0, count);
      this.queuedLines -= lines;
      this.known = Math.max(0, this.known - count); // never below zero, even if a source repeated a position
      this.counters.written += count;
      this.readerWake.signal(); // room in the queue
      this.settleDrains();
    }
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
        await this.retryWake.wait(this.delay(attempt));
      }
    }
  }

  /**
   * Write lines until the server acknowledged them: retries outages with backoff; a data rejection
   * is narrowed down by halving to the refused lines, which are logged and skipped. Returns false
   * when stopped before everything was acknowledged.
   */
  private async deliver(lines: string[]): Promise<boolean> {
    if (lines.length === 0) return true;
    const outcome = await this.writeRetrying(lines);
    if (outcome === 'stopped') return false;
    if (outcome.ok) return true;
    if (lines.length === 1) {
      this.counters.rejected++;
      this.logger.error(`the server refused a point, skipped (it stays in the archive): ${outcome.message}: ${lines[0]!.slice(0, 300)}`);
      return true;
    }
    const half = Math.ceil(lines.length / 2);
    return (await this.deliver(lines.slice(0, half))) && (await this.deliver(lines.slice(half)));
  }

  /** One batch, retried through outages; resolves with success, a data rejection, or 'stopped'. */
  private async writeRetrying(lines: string[]): Promise<WriteOutcome | 'stopped'> {
    let attempt = 0;
    for (;;) {
      const outcome = await this.writer.write(lines);
      if (outcome.ok || outcome.kind === 'rejected') {
        if (this.failingSince !== null) {
          this.logger.info(`InfluxDB writes work again after ${Math.round((this.clock.now() - this.failingSince) / 1000)} s`);
          this.failingSince = null;
        }
        this.lastError = outcome.ok ? null : outcome.message;
        return outcome;
      }
      attempt++;
      this.counters.failedAttempts++;
      this.lastError = outcome.message;
      if (this.failingSince === null) {
        this.failingSince = this.clock.now();
        const log = outcome.status !== null && outcome.status < 500 && outcome.status !== 429 ? this.logger.error : this.logger.warn;
        log.call(this.logger, `InfluxDB write failed, retrying with backoff (records stay in the archive): ${outcome.message}`);
      }
      if (!this.running) return 'stopped';
      const wait = Math.max(this.delay(attempt), Math.min(outcome.retryAfterMs ?? 0, this.maxRetryDelayMs));
      await this.retryWake.wait(wait);
      if (!this.running) return 'stopped';
    }
  }
}
