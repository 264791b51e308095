// What an asynchronous follower has yet to consume, in archive order: handoffs while it keeps up, the archive read from its position when it falls behind.
import type { Clock } from '../../common/clock.js';
import type { AppendedSpan, ArchiveCursor, ArchivedRecord } from '../storage/archive.js';
import { compareCursors } from './cursor.js';
import { Wakeup } from './wakeup.js';

/** Reads the archive from a position (or its start): every durable record with the position after it. */
export type ArchiveSource = (from?: ArchiveCursor) => AsyncIterable<{ record: ArchivedRecord; next: ArchiveCursor }>;

/** Records waiting to be consumed: one handoff, or one record read from the archive. */
export interface TailEntry<T> {
  /** The records until they are prepared (soon after they arrive), then null. */
  records: readonly ArchivedRecord[] | null;
  /** What the follower made of them (e.g. line protocol), once prepared. */
  value: T | null;
  /** How many records. */
  count: number;
  /** Position after the last of them. */
  next: ArchiveCursor;
  /** clock.monotonic() when queued. */
  at: number;
}

export interface TailCounters {
  /** Records taken from the server's handoff, and records read from the archive, since start. */
  handedOver: number;
  readFromArchive: number;
  /** Handoffs declined (behind, queue full, or not contiguous): those records came from the archive. */
  declinedOffers: number;
}

export interface ArchiveTailOptions<T> {
  source: ArchiveSource;
  clock: Clock;
  /** Most records held (queued or taken and not yet acknowledged); past it, handoffs are declined. */
  maxHeld: number;
  /** The consumer's batch: it is woken when the queue was empty or has filled a batch. */
  batchSize: number;
  /** How often the archive is looked at when no handoff or notification comes. */
  pollMs: number;
  /** Turn records into what the consumer keeps (called off the ingest path for handoffs). */
  prepare(records: readonly ArchivedRecord[], next: ArchiveCursor): T;
  /** Something was queued for the consumer (or a drain waits): look at the queue. */
  wake(): void;
  /** The wait before read retry number `attempt`. */
  delay(attempt: number): number;
  logError(message: string): void;
}

function sameCursor(a: ArchiveCursor | undefined, b: ArchiveCursor | undefined): boolean {
  return a !== undefined && b !== undefined && a.segment === b.segment && a.offset === b.offset;
}

/**
 * While the follower is caught up, the server hands each durably archived batch over (`offer`) and
 * the tail queues those objects directly. When it is behind (after a restart, an outage that filled
 * its memory, or a handoff that does not continue exactly where it is), it declines handoffs and
 * reads the archive from its own position instead, until it is caught up again. A handoff is taken
 * only when it starts exactly at the position after the last record the tail holds, so the records
 * consumed are always the archive's, in the archive's order. While the queue is full it keeps
 * counting records (without holding them), so that the backlog stays exact during a long outage.
 */
export class ArchiveTail<T> {
  readonly counters: TailCounters = { handedOver: 0, readFromArchive: 0, declinedOffers: 0 };
  private readonly queue: TailEntry<T>[] = [];
  private queuedRecords = 0;
  /** Records taken by the consumer and not yet acknowledged. */
  private takenRecords = 0;
  private running = false;
  private loaded = false;
  private readonly readerWake = new Wakeup();
  /** Only stop() and drain() cut this short. */
  private readonly pause = new Wakeup();
  /** Position after the last record queued or taken. */
  private readFrom: ArchiveCursor | undefined;
  /** Position after the last counted record (≥ readFrom): records between them are counted, not held. */
  private scanFrom: ArchiveCursor | undefined;
  /** Records after the acknowledged position known to be in the archive. */
  private known = 0;
  /**
   * With no position at all (no cursor, nothing read): a read pass from the archive's start found it
   * empty and no handoff was declined since that pass began, so a handoff at offset 0 is the first record.
   */
  private emptyArchive = false;
  /** Handoffs declined so far (a read pass that began before a decline cannot vouch for `emptyArchive`). */
  private declines = 0;
  /** drain(): tickets handed out, the ticket of the last completed read pass, and who waits. */
  private drainTickets = 0;
  private passedTicket = 0;
  private readonly drainWaiters: Array<{ ticket: number; resolve: (done: boolean) => void }> = [];
  /** A read pass is under way (more records may be queued any moment). */
  private reading = false;
  /** Handed-over entries are prepared in a task of their own, off the ingest path, so that their objects die young. */
  private preparationScheduled = false;

  constructor(private readonly o: ArchiveTailOptions<T>) {}

  /** The follower runs: handoffs are looked at from now on (declined until `run` knows the position). */
  start(): void {
    this.running = true;
  }

  /** Follow the archive from `from` (its start when undefined) until stop(); resolves when stopped. */
  async run(from: ArchiveCursor | undefined): Promise<void> {
    if (!this.running) return;
    this.readFrom = from;
    this.scanFrom = from;
    this.loaded = true;
    this.o.wake();
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
        if (this.drainWaiters.length > 0) this.o.wake();
        failures = 0;
      } catch (err) {
        failures++;
        this.o.logError(`reading the archive failed: ${(err as Error).message}`);
        await this.readerWake.wait(this.o.delay(failures));
        continue;
      }
      const passEnded = this.o.clock.monotonic();
      await this.readerWake.wait(this.o.pollMs);
      // Under a stream of notifications, gather them: one pass per gap rather than one per upload
      // (each pass reopens the archive). The consumer batches over pollMs anyway.
      const gap = Math.min(100, this.o.pollMs / 4) - (this.o.clock.monotonic() - passEnded);
      if (gap > 0 && this.running && this.drainWaiters.length === 0) await this.pause.wait(gap);
    }
  }

  /** Stop reading (a run() under way resolves). */
  stop(): void {
    this.running = false;
    this.readerWake.signal();
    this.pause.signal();
  }

  /** Resolve the drains that can be answered now (after a stop: every one, with false). */
  settle(): void {
    this.settleDrains();
  }

  /** Forget every position and count (a rewind while stopped). */
  reset(): void {
    this.readFrom = undefined;
    this.scanFrom = undefined;
    this.known = 0;
    this.loaded = false;
  }

  /** New records were archived: look at the archive now rather than at the next poll. */
  notify(): void {
    this.readerWake.signal();
  }

  /**
   * The server's handoff: `records` were just made durable in the archive, covering `span`. Taken
   * (true) when they continue exactly after what the tail holds and there is room; otherwise
   * declined (false): they are counted when that is exact, and the reader finds them in the archive.
   */
  offer(records: readonly ArchivedRecord[], span: AppendedSpan): boolean {
    if (!this.running || records.length === 0) return false;
    if (!this.loaded) return this.decline();
    const { from: cursorBefore, to: cursorAfter } = span;
    if (this.scanFrom !== undefined && compareCursors(cursorAfter, this.scanFrom) <= 0) return false; // read already
    const nothingHeld = this.readFrom === undefined && this.scanFrom === undefined;
    const continues = nothingHeld ? this.emptyArchive && cursorBefore.offset === 0 : sameCursor(this.readFrom, this.scanFrom) && sameCursor(cursorBefore, this.readFrom);
    if (continues && this.hasRoom()) {
      this.enqueue({ records, value: null, count: records.length, next: cursorAfter, at: this.o.clock.monotonic() });
      this.prepareSoon();
      this.readFrom = cursorAfter;
      this.scanFrom = cursorAfter;
      this.known += records.length;
      this.emptyArchive = false;
      this.counters.handedOver += records.length;
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

  /** Records in the archive after the acknowledged position, as far as known. */
  backlog(): number {
    return this.known;
  }

  /** Queued records (not yet taken). */
  queued(): number {
    return this.queuedRecords;
  }

  /** When the oldest queued entry was queued (clock.monotonic), or null when none is. */
  oldestAt(): number | null {
    return this.queue[0]?.at ?? null;
  }

  /** The consumer may begin (the position is known). */
  ready(): boolean {
    return this.loaded;
  }

  /** A partial batch should go out at once: someone waits in drain() and the reader has nothing more right now. */
  flushWanted(): boolean {
    return this.drainWaiters.length > 0 && !this.reading;
  }

  /** Take whole entries from the head, up to `max` records (at least one entry): their values and the position after them. */
  take(max: number): { values: T[]; records: number; next: ArchiveCursor } | null {
    if (this.queue.length === 0) return null;
    let count = 0;
    let records = 0;
    while (count < this.queue.length) {
      const entry = this.queue[count]!;
      if (count > 0 && records + entry.count > max) break;
      records += entry.count;
      count++;
    }
    const taken = this.queue.splice(0, count);
    this.queuedRecords -= records;
    this.takenRecords += records;
    return { values: taken.map((e) => this.valueOf(e)), records, next: taken[count - 1]!.next };
  }

  /** `records` taken before are done (their position is saved): room frees up and the backlog shrinks. */
  acknowledge(records: number): void {
    this.takenRecords -= records;
    this.known = Math.max(0, this.known - records); // never below zero, even if a source repeated a position
    this.readerWake.signal();
    this.settleDrains();
  }

  /**
   * Resolves true once every record archived before the call has been acknowledged (a read pass
   * that began after the call found nothing more and the backlog is zero), false when the tail
   * stops first.
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

  private decline(): false {
    this.declines++;
    this.counters.declinedOffers++;
    this.emptyArchive = false;
    this.readerWake.signal();
    return false;
  }

  private hasRoom(): boolean {
    return this.queuedRecords + this.takenRecords < this.o.maxHeld;
  }

  private enqueue(entry: TailEntry<T>): void {
    const wasEmpty = this.queue.length === 0;
    const below = this.queuedRecords < this.o.batchSize;
    this.queue.push(entry);
    this.queuedRecords += entry.count;
    if (wasEmpty || (below && this.queuedRecords >= this.o.batchSize)) this.o.wake();
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
   * Records a handoff queued meanwhile (at or before `readFrom`) are skipped. Returns whether the
   * archive yielded any record at all.
   */
  private async readPass(): Promise<boolean> {
    let found = false;
    let countFromScan = !this.hasRoom();
    if (!countFromScan) {
      let counting = false;
      for await (const { record, next } of this.o.source(this.readFrom)) {
        if (!this.running) return true;
        found = true;
        if (this.readFrom !== undefined && compareCursors(next, this.readFrom) <= 0) continue; // handed over meanwhile
        const fresh = this.isNew(next);
        if (!counting && this.hasRoom()) {
          this.enqueue({ records: null, value: this.o.prepare([record], next), count: 1, next, at: this.o.clock.monotonic() });
          this.counters.readFromArchive++;
          this.readFrom = next;
          if (fresh) this.countNew(next);
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
    for await (const { next } of this.o.source(this.scanFrom)) {
      if (!this.running) return true;
      found = true;
      if (this.isNew(next)) this.countNew(next);
    }
    return found;
  }

  private prepareSoon(): void {
    if (this.preparationScheduled) return;
    this.preparationScheduled = true;
    setImmediate(() => {
      this.preparationScheduled = false;
      for (const entry of this.queue) this.valueOf(entry);
    });
  }

  private valueOf(entry: TailEntry<T>): T {
    if (entry.value === null) {
      entry.value = this.o.prepare(entry.records ?? [], entry.next);
      entry.records = null;
    }
    return entry.value;
  }
}
