// The revision outbox: hands the event store's revisions to one consumer (webhook, time series) in seq order, with a durable cursor and retries.
import type { Clock } from '../../common/clock.js';
import { AshyqError, InvalidArgumentError } from '../../common/errors.js';
import { retryDelay } from '../sinks/influx/backoff.js';
import type { Revision } from './types.js';

/** What the outbox needs of the event store (events.sqlite). */
export interface RevisionSource {
  revisionsAfter(seq: number, limit: number): Revision[];
  lastSeq(): number;
  meta(key: string): string | null;
  setMeta(key: string, value: string): void;
}

/**
 * What became of one send: delivered; failed and worth retrying (unreachable, timed out, a 5xx);
 * or refused by the receiver (resending it unchanged will not help: it is logged and skipped).
 */
export type SendOutcome =
  | { ok: true }
  | { ok: false; retry: true; message: string; retryAfterMs?: number | null }
  | { ok: false; retry: false; message: string };

/** Delivers revisions (oldest first, consecutive seqs); resolves, never rejects, once it knows the outcome. */
export type RevisionSend = (revisions: readonly Revision[]) => Promise<SendOutcome>;

/** Timers the outbox waits with (fake timers in tests). */
export interface OutboxTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface OutboxLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface RevisionOutboxOptions {
  /** Its name in logs and the meta key of its cursor (`outbox:<name>`). */
  name: string;
  store: RevisionSource;
  send: RevisionSend;
  clock: Clock;
  timers?: OutboxTimers;
  /** Uniform [0, 1) for the retry jitter. Default Math.random. */
  random?: () => number;
  /** Most revisions in one send. Default 100. */
  batchSize?: number;
  /** How often the store is looked at when notify() is not called. Default 10 000 ms. */
  pollMs?: number;
  /** First retry delay (doubling up to the cap, with jitter). Default 1000 ms. */
  initialRetryDelayMs?: number;
  /** Cap of the retry delay. Default 300 000 ms. */
  maxRetryDelayMs?: number;
  log?: OutboxLog;
}

export interface OutboxStats {
  /** Seq of the last revision delivered or skipped (persisted). */
  cursor: number;
  /** Revisions after the cursor in the store. */
  backlog: number;
  /** Revisions delivered, and skipped because the receiver refused them, since start. */
  delivered: number;
  refused: number;
  /** Failed send attempts (retried) since start. */
  failedAttempts: number;
  lastError: string | null;
  /** clock.now() when the current run of failures began, or null. */
  failingSince: number | null;
}

/** The cursor in events.sqlite's meta is not a sequence number. */
export class OutboxCursorError extends AshyqError {
  constructor(key: string, value: string) {
    super('ASHYQ_ERR_OUTBOX_CURSOR', `outbox cursor ${key} is not a sequence number: ${JSON.stringify(value.slice(0, 100))}`);
  }
}

const defaultTimers: OutboxTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`RevisionOutbox: ${name} must be > 0, got ${value}`);
  return value;
}

/**
 * At-least-once delivery of the revisions in seq order: the cursor (the last seq delivered) is
 * saved in the store's meta after every successful send, so a restart resends at most the send
 * that was under way; receivers recognise a resend by its seq. A failed send is retried with
 * capped exponential backoff and jitter, holding back the revisions after it (order is kept). A
 * refused batch of several revisions is sent again one at a time, so only what the receiver
 * refuses is skipped.
 *
 * The event follower numbers revisions anew after a crash from its last snapshot (same seqs,
 * possibly other content): a cursor ahead of the store's last seq is clamped down to it, and
 * {@link RevisionOutbox.rewindTo} lets the caller move it back to the snapshot's seq before the
 * follower starts, so that remade revisions are delivered again.
 */
export class RevisionOutbox {
  readonly name: string;
  private readonly key: string;
  private readonly timers: OutboxTimers;
  private readonly random: () => number;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly initialRetryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly log: OutboxLog;
  private cursor = 0;
  private running = false;
  private loop: Promise<void> | null = null;
  /** A notify() while the loop was busy: look at the store again before waiting. */
  private pending = false;
  private waiting: { done: () => void; handle: unknown; wakeOnNotify: boolean } | null = null;
  private counters = { delivered: 0, refused: 0, failedAttempts: 0 };
  private lastError: string | null = null;
  private failingSince: number | null = null;

  constructor(private readonly o: RevisionOutboxOptions) {
    this.name = o.name;
    this.key = `outbox:${o.name}`;
    this.timers = o.timers ?? defaultTimers;
    this.random = o.random ?? Math.random;
    this.batchSize = Math.floor(positive('batchSize', o.batchSize, 100));
    this.pollMs = positive('pollMs', o.pollMs, 10_000);
    this.initialRetryDelayMs = positive('initialRetryDelayMs', o.initialRetryDelayMs, 1000);
    this.maxRetryDelayMs = Math.max(this.initialRetryDelayMs, positive('maxRetryDelayMs', o.maxRetryDelayMs, 300_000));
    this.log = o.log ?? { info: () => undefined, warn: (m) => console.warn(`${this.key}: ${m}`), error: (m) => console.error(`${this.key}: ${m}`) };
  }

  /**
   * Move the saved cursor back to `seq` when it is past it (only while stopped): revisions after
   * `seq` are delivered again. For the seq of the event follower's snapshot, before it starts.
   */
  rewindTo(seq: number): void {
    if (this.running) throw new InvalidArgumentError(`${this.key}: rewindTo only while stopped`);
    const saved = this.load();
    if (saved > seq) {
      this.log.warn(`the event store goes back to revision ${seq} (after a crash); revisions ${seq + 1}–${saved} are delivered again`);
      this.save(Math.max(0, seq));
    }
  }

  /** Load the cursor (clamped to the store's last seq) and begin delivering in the background. */
  async start(): Promise<void> {
    if (this.running) return;
    this.cursor = this.load();
    this.clamp();
    this.running = true;
    this.loop = this.run();
  }

  /** New revisions were saved: look at the store now rather than at the next poll (a retry's backoff is kept). */
  notify(): void {
    this.pending = true;
    if (this.waiting?.wakeOnNotify === true) this.waiting.done();
  }

  /** Stop: the send under way is awaited (and its cursor saved), no retry follows. */
  async stop(): Promise<void> {
    this.running = false;
    this.waiting?.done();
    await this.loop;
  }

  stats(): OutboxStats {
    return { cursor: this.cursor, backlog: this.backlog(), ...this.counters, lastError: this.lastError, failingSince: this.failingSince };
  }

  /** Revisions in the store after the cursor (NaN when the store cannot say). */
  backlog(): number {
    try {
      return Math.max(0, this.o.store.lastSeq() - this.cursor);
    } catch {
      return Number.NaN;
    }
  }

  private load(): number {
    const value = this.o.store.meta(this.key);
    if (value === null) return 0;
    const seq = Number(value);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new OutboxCursorError(this.key, value);
    return seq;
  }

  private save(seq: number): void {
    this.o.store.setMeta(this.key, String(seq));
  }

  /** A cursor past the store's last revision (the follower went back to its snapshot): down to it. */
  private clamp(): void {
    const last = this.o.store.lastSeq();
    if (this.cursor <= last) return;
    this.log.warn(`cursor ${this.cursor} is past the event store's last revision ${last} (remade after a crash): delivering from ${last + 1}`);
    this.cursor = last;
    this.save(last);
  }

  private async run(): Promise<void> {
    let readFailures = 0;
    while (this.running) {
      this.pending = false;
      let batch: Revision[];
      try {
        this.clamp();
        batch = this.o.store.revisionsAfter(this.cursor, this.batchSize);
        readFailures = 0;
      } catch (err) {
        readFailures++;
        this.log.error(`reading revisions after ${this.cursor} failed: ${(err as Error).message}`);
        await this.sleep(this.delay(readFailures), false);
        continue;
      }
      if (batch.length === 0) {
        if (!this.pending) await this.sleep(this.pollMs, true);
        continue;
      }
      await this.deliver(batch);
    }
  }

  /** Send `batch` until it is delivered or refused (then the cursor passes it), or the outbox stops. */
  private async deliver(batch: readonly Revision[]): Promise<void> {
    let attempt = 0;
    while (this.running) {
      const outcome = await this.sendOnce(batch);
      if (outcome.ok) {
        this.recovered();
        this.counters.delivered += batch.length;
        this.advance(batch);
        return;
      }
      if (!outcome.retry) {
        this.recovered();
        if (batch.length > 1) {
          // Find what is refused: one at a time.
          for (const one of batch) {
            if (!this.running) return;
            await this.deliver([one]);
          }
          return;
        }
        this.counters.refused++;
        this.log.error(`revision ${batch[0]!.seq} (event ${batch[0]!.event_id}) refused by the receiver, skipped: ${outcome.message}`);
        this.advance(batch);
        return;
      }
      attempt++;
      this.counters.failedAttempts++;
      this.lastError = outcome.message;
      if (this.failingSince === null) {
        this.failingSince = this.o.clock.now();
        this.log.warn(`sending revisions from ${batch[0]!.seq} failed, retrying with backoff: ${outcome.message}`);
      }
      const wait = Math.max(this.delay(attempt), Math.min(outcome.retryAfterMs ?? 0, this.maxRetryDelayMs));
      await this.sleep(wait, false);
    }
  }

  private async sendOnce(batch: readonly Revision[]): Promise<SendOutcome> {
    try {
      return await this.o.send(batch);
    } catch (err) {
      // send() answers failures as data; a throw is a bug, retried like an outage.
      return { ok: false, retry: true, message: `send failed unexpectedly: ${(err as Error).message}` };
    }
  }

  private recovered(): void {
    if (this.failingSince === null) return;
    this.log.info(`delivering works again after ${Math.round((this.o.clock.now() - this.failingSince) / 1000)} s`);
    this.failingSince = null;
    this.lastError = null;
  }

  private advance(batch: readonly Revision[]): void {
    this.cursor = batch[batch.length - 1]!.seq;
    try {
      this.save(this.cursor);
    } catch (err) {
      // Delivered; without the saved cursor a restart only delivers it again (receivers deduplicate by seq).
      this.log.error(`saving the cursor ${this.cursor} failed: ${(err as Error).message}`);
    }
  }

  private delay(attempt: number): number {
    return retryDelay(attempt, { initialMs: this.initialRetryDelayMs, maxMs: this.maxRetryDelayMs, factor: 2, random: this.random });
  }

  /** Wait `ms`, cut short by stop() (and by notify() when `wakeOnNotify`). */
  private sleep(ms: number, wakeOnNotify: boolean): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        if (this.waiting !== entry) return;
        this.waiting = null;
        this.timers.clearTimeout(entry.handle);
        resolve();
      };
      const entry: { done: () => void; handle: unknown; wakeOnNotify: boolean } = { done, handle: null, wakeOnNotify };
      this.waiting = entry;
      entry.handle = this.timers.setTimeout(done, Math.max(0, ms));
    });
  }
}
