// The InfluxDB time-series sink: takes archived records handed over by the server or reads them from the archive, and writes them in batches, lossless across outages.
import { systemClock, type Clock } from '../../../common/clock.js';
import { InvalidArgumentError } from '../../../common/errors.js';
import type { AppendedSpan, ArchiveCursor, ArchivedRecord } from '../../storage/archive.js';
import type { Follower } from '../../pipeline/follower.js';
import { retryDelay } from './backoff.js';
import { compareCursors, CursorFile } from '../../pipeline/cursor.js';
import { ReachabilityLines } from './line.js';
import { Wakeup } from './wakeup.js';
import { Delivery, type DeliveryLogger } from './delivery.js';
import { InfluxWriter, type LineWriter } from './writer.js';

export type SinkLogger = DeliveryLogger;

/** Reads the archive from a position (or its start): every durable record with the position after it. */
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

/** Records waiting to be written: one handoff, or one record read from the archive. */
interface Queued {
  /** The records until they are converted (soon after they arrive), then null. */
  records: readonly ArchivedRecord[] | null;
  /** Their lines once converted (fewer when a record could not be converted). */
  lines: string[] | null;
  /** How many records. */
  count: number;
  /** Position after the last of them. */
  next: ArchiveCursor;
  /** clock.monotonic() when queued. */
  at: number;
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

function sameCursor(a: ArchiveCursor | undefined, b: ArchiveCursor | undefined): boolean {
  return a !== undefined && b !== undefined && a.segment === b.segment && a.offset === b.offset;
}

/**
 * Writes the archive's records as `reachability` points to InfluxDB.
 *
 * Where records come from: while the sink is caught up, the server hands each durably archived
 * batch over (`offer`) and the sink converts and writes those objects directly. When it is behind
 * (after a restart, an outage that filled its memory, or a handoff that does not continue exactly
 * where it is), it declines handoffs and reads the archive from its own position instead, until it
 * is caught up again. A handoff is taken only when it starts exactly at the position after the last
 * record the sink holds, so the records it writes are always the archive's, in the archive's order.
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
  private readonly source: ArchiveSource;
  private readonly writer: LineWriter;
  private readonly delivery: Delivery;
  private readonly cursorFile: CursorFile;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly initialRetryDelayMs: number;
  private readonly maxQueued: number;
  private readonly maxInFlight: number;
  private readonly random: () => number;
  private readonly lines = new ReachabilityLines();

  private running = false;
  private loops: Promise<void> | null = null;
  private readonly readerWake = new Wakeup();
  private readonly writerWake = new Wakeup();
  /** Only stop() and drain() cut this short. */
  private readonly pause = new Wakeup();
  /** Retry and backoff sleeps (several deliveries may sleep at once); stop() ends them all. */
  private readonly sleepers = new Set<() => void>();

  /** Position after the last acknowledged record (persisted), undefined = archive start. */
  private acked: ArchiveCursor | undefined;
  private loaded = false;
  /** Records taken or read, waiting to be written (in archive order). */
  private readonly queue: Queued[] = [];
  private queuedRecords = 0;
  /** Write requests under way, oldest first, and the records they carry. */
  private readonly inFlight: InFlight[] = [];
  private inFlightRecords = 0;
  private readonly deliveries = new Set<Promise<void>>();
  private committing = false;
  private commitAgain = false;
  private commits: Promise<void> = Promise.resolve();
  /** Position after the last record queued or in flight. */
  private readFrom: ArchiveCursor | undefined;
  /** Position after the last counted record (≥ readFrom): records between them are counted, not held. */
  private scanFrom: ArchiveCursor | undefined;
  /** Records after `acked` known to be in the archive. */
  private known = 0;
  /**
   * With no position at all (no cursor, nothing read): a read pass from the archive's start found it
   * empty and no handoff was declined since that pass began, so a handoff at offset 0 is the first record.
   */
  private emptyArchive = false;
  /** Handoffs declined so far (a read pass that began before a decline cannot vouch for `emptyArchive`). */
  private declines = 0;
  private readonly counters = {
    written: 0,
    unconvertible: 0,
    handedOver: 0,
    readFromArchive: 0,
    declinedOffers: 0,
  };
  /** drain(): tickets handed out, the ticket of the last completed read pass, and who waits. */
  private drainTickets = 0;
  private passedTicket = 0;
  private readonly drainWaiters: Array<{ ticket: number; resolve: (done: boolean) => void }> = [];
  /** A read pass is under way (more records may be queued any moment). */
  private reading = false;
  /** Handed-over entries are converted in a task of their own, off the ingest path, so that their objects die young. */
  private conversionScheduled = false;

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
    this.maxInFlight = Math.floor(positive('maxInFlight', options.maxInFlight, 4));
    this.maxQueued = Math.floor(positive('maxQueuedRecords', options.maxQueuedRecords, (this.maxInFlight + 2) * this.batchSize));
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
      sleep: (ms) => this.sleep(ms),
      onRecovered: () => this.writerWake.signal(), // all slots again
    });
  }

  /** Begin following the archive from the persisted cursor (idempotent); resolves at once, the loops run in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.loops = Promise.all([this.readLoop(), this.writeLoop()]).then(() => undefined);
  }

  /** New records were archived: look at the archive now rather than at the next poll. */
  notify(): void {
    this.readerWake.signal();
  }

  /** Forget the cursor (only while stopped): the next start writes the whole archive again, which overwrites itself. */
  async rewind(): Promise<void> {
    if (this.running) throw new InvalidArgumentError('InfluxSink: rewind only while stopped');
    await this.cursorFile.remove();
    this.acked = undefined;
    this.readFrom = undefined;
    this.scanFrom = undefined;
    this.known = 0;
    this.loaded = false;
  }

  /**
   * The server's handoff: `records` were just made durable in the archive, from `span.from` up to
   * `span.to`. Taken (true) when they continue exactly after what the sink holds and there is
   * room; otherwise declined (false): they are counted when that is exact, and the reader finds them
   * in the archive.
   */
  offer(records: readonly ArchivedRecord[], span: AppendedSpan): boolean {
    const cursorBefore = span.from;
    const cursorAfter = span.to;
    if (!this.running || records.length === 0) return false;
    if (!this.loaded) return this.decline();
    if (this.scanFrom !== undefined && compareCursors(cursorAfter, this.scanFrom) <= 0) return false; // read already
    const nothingHeld = this.readFrom === undefined && this.scanFrom === undefined;
    const continues = nothingHeld ? this.emptyArchive && cursorBefore.offset === 0 : sameCursor(this.readFrom, this.scanFrom) && sameCursor(cursorBefore, this.readFrom);
    if (continues && this.queuedRecords + this.inFlightRecords < this.maxQueued) {
      const wasEmpty = this.queue.length === 0;
      const below = this.queuedRecords < this.batchSize;
      this.queue.push({ records, lines: null, count: records.length, next: cursorAfter, at: this.clock.monotonic() });
      this.queuedRecords += records.length;
      this.convertSoon();
      this.readFrom = cursorAfter;
      this.scanFrom = cursorAfter;
      this.known += records.length;
      this.emptyArchive = false;
      this.counters.handedOver += records.length;
      if (wasEmpty || (below && this.queuedRecords >= this.batchSize)) this.writerWake.signal();
      return true;
    }
    if (continues || (!nothingHeld && sameCursor(cursorBefore, this.scanFrom))) {
      // No room: count them now (backlog stays exact); the reader reads them once there is room.
      this.known += records.length;
      this.scanFrom = cursorAfter;
      this.emptyArchive = false;
    }
    return this.decline();
  }

  private decline(): false {
    this.declines++;
    this.counters.declinedOffers++;
    this.emptyArchive = false;
    this.readerWake.signal();
    return false;
  }

  /** Records in the archive after the cursor that the server has not acknowledged yet (as far as known). */
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
    const d = this.delivery;
    return {
      ...this.counters,
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
    this.readerWake.signal();
    this.writerWake.signal();
    this.pause.signal();
    this.wakeSleepers();
    await this.loops;
    while (this.deliveries.size > 0) await Promise.all([...this.deliveries]);
    await this.commits;
    this.writer.close?.();
    this.settleDrains();
  }

  /** A delay that stop() cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.sleepers.add(done);
    });
  }

  private wakeSleepers(): void {
    for (const done of [...this.sleepers]) done();
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
        await this.sleep(this.delay(attempt));
      }
    }
  }

  private async readLoop(): Promise<void> {
    await this.load();
    let failures = 0;
    while (this.running) {
      try {
        const ticket = this.drainTickets;
        const declines = this.declines;
        const fromStart = this.readFrom === undefined && this.scanFrom === undefined;
        this.reading = true;
        let found: boolean;
        try {
          found = await this.readPass();
        } finally {
          this.reading = false;
        }
        // An empty archive, seen by a pass during which no handoff was declined: the next handoff
        // at offset 0 is the archive's first record.
        if (fromStart && !found && this.declines === declines && this.readFrom === undefined && this.scanFrom === undefined) this.emptyArchive = true;
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

  private isNew(next: ArchiveCursor): boolean {
    return this.scanFrom === undefined || compareCursors(next, this.scanFrom) > 0;
  }

  private countNew(next: ArchiveCursor): void {
    this.known++;
    this.scanFrom = next;
  }

  private hasRoom(): boolean {
    return this.queuedRecords + this.inFlightRecords < this.maxQueued;
  }

  /**
   * Queue records after `readFrom` while there is room; past that, keep counting (without holding
   * them) so that backlog() stays exact during a long outage. Counted-but-unqueued records are read
   * again when room frees up; counting resumes from `scanFrom`, so no record is counted twice.
   * Records a handoff queued meanwhile (at or before `readFrom`) are skipped. Returns whether the
   * archive yielded any record at all.
   */
  private async readPass(): Promise<boolean> {
    let found = false;
    let countFromScan = !this.hasRoom();
    if (!countFromScan) {
      let counting = false;
      for await (const { record, next } of this.source(this.readFrom)) {
        if (!this.running) return true;
        found = true;
        if (this.readFrom !== undefined && compareCursors(next, this.readFrom) <= 0) continue; // handed over meanwhile
        const fresh = this.isNew(next);
        if (!counting && this.hasRoom()) {
          const wasEmpty = this.queue.length === 0;
          const below = this.queuedRecords < this.batchSize;
          this.queue.push({ records: null, lines: this.convert([record], next), count: 1, next, at: this.clock.monotonic() });
          this.queuedRecords++;
          this.counters.readFromArchive++;
          this.readFrom = next;
          if (fresh) this.countNew(next);
          if (wasEmpty || (below && this.queuedRecords >= this.batchSize)) this.writerWake.signal();
          continue;
        }
        if (!fresh) {
          // No room, and what follows, up to scanFrom, is counted already: count on from there.
          countFromScan = true;
          break;
        }
        counting = true; // no room: keep counting to the end with this same iteration
        this.countNew(next);
      }
    }
    if (!countFromScan) return found;
    for await (const { next } of this.source(this.scanFrom)) {
      if (!this.running) return true;
      found = true;
      if (this.isNew(next)) this.countNew(next);
    }
    return found;
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

  /** Requests allowed at once: one while the server fails (it probes; the rest wait), else maxInFlight. */
  private slots(): number {
    return this.delivery.failingSince === null ? this.maxInFlight : 1;
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

  private convertSoon(): void {
    if (this.conversionScheduled) return;
    this.conversionScheduled = true;
    setImmediate(() => {
      this.conversionScheduled = false;
      for (const entry of this.queue) this.linesOf(entry);
    });
  }

  private linesOf(entry: Queued): string[] {
    if (entry.lines === null) {
      entry.lines = this.convert(entry.records ?? [], entry.next);
      entry.records = null;
    }
    return entry.lines;
  }

  private async writeLoop(): Promise<void> {
    while (this.running) {
      if (!this.loaded || this.queue.length === 0 || this.inFlight.length >= this.slots()) {
        await this.writerWake.wait(this.flushIntervalMs);
        continue;
      }
      if (this.queuedRecords < this.batchSize && !this.flushNow()) {
        const age = this.clock.monotonic() - this.queue[0]!.at;
        if (age < this.flushIntervalMs) {
          await this.writerWake.wait(this.flushIntervalMs - age);
          if (this.queue.length === 0) continue;
          if (this.queuedRecords < this.batchSize && !this.flushNow() && this.clock.monotonic() - this.queue[0]!.at < this.flushIntervalMs) continue;
        }
      }
      if (!this.running) break;
      if (this.inFlight.length >= this.slots()) continue;
      let count = 0;
      let records = 0;
      while (count < this.queue.length) {
        const entry = this.queue[count]!;
        if (count > 0 && records + entry.count > this.batchSize) break;
        records += entry.count;
        count++;
      }
      const taken = this.queue.splice(0, count);
      this.queuedRecords -= records;
      const lines: string[] = [];
      for (const entry of taken) for (const l of this.linesOf(entry)) lines.push(l);
      const slot: InFlight = { records, next: taken[count - 1]!.next, state: 'writing' };
      this.inFlight.push(slot);
      this.inFlightRecords += records;
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
          this.inFlightRecords -= records;
          this.known = Math.max(0, this.known - records); // never below zero, even if a source repeated a position
          this.counters.written += records;
          this.readerWake.signal(); // room in memory
          this.writerWake.signal(); // a free slot
          this.settleDrains();
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
        await this.sleep(this.delay(attempt));
      }
    }
  }
}
