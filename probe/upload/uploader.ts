// The background uploader: spool → signed batches → collector, removing a measurement only after the collector acknowledged it.
//
// Loop: take the oldest `batchSize` pending measurements (and the spool's unreported overflow),
// upload them, then ack in the spool every id the collector answered `accepted` or `duplicate`.
// `rejected` items are acked too — retrying them forever would block the spool — but each is
// logged as an error with the collector's reason and counted in status().rejected.
//
// Timing (timers.setTimeout, so fake timers drive it; timestamps from clock.now()):
// * after a full batch the next one goes at once; after a partial one the uploader idles until
//   kick() (a new measurement was spooled) or `idleMs` passes;
// * after a failure it waits a full-jitter exponential backoff: random() × min(capMs, baseMs × 2^(n−1))
//   for the n-th consecutive failure, or the collector's retry-after on 429/503; a success resets
//   it. kick() does not cut a backoff short (a probe that spools every few minutes must not hammer
//   an unreachable collector); but while a backoff after an unreachable or failing collector runs,
//   a cheap reachability check (reachable(), GET /healthz) every recheckMs × [0.75, 1.25) ends it as
//   soon as the collector answers again, so that a probe's spool (a shutdown's measurements) is
//   delivered within about recheckMs of the collector's return, not after a backoff of up to capMs;
//   the jitter spreads a fleet's returns;
// * a 413 (batch too large) halves the batch size until the spool is drained; a single
//   measurement the collector refuses as too large is acked and logged as rejected (it can never
//   be delivered); other whole-batch refusals (400, 415) are backed off like any failure, never
//   dropped: they mean a probe/collector mismatch, not a bad measurement;
// * a pin mismatch: nothing was sent; onPinMismatch(evidence) is called and the uploader backs off;
// * the collector revoked this probe (kind revoked, 403 probe_revoked): the uploader stops for good
//   (no retry, no kick, no reachability check; nothing is acked, so the spool keeps every
//   measurement) and calls onRevoked once; only a new Uploader (a restart of the daemon) tries again.
//
// Timers: the injected `timers` (setTimeout and clearTimeout of the host by default).
import type { TlsObservation } from '../../contract/evidence.js';
import type { Clock } from '../../common/clock.js';
import type { Measurement } from '../../contract/measurement.js';
import { UploadError, type CollectorClient, type SpoolOverflow } from './client.js';
import type { Revocation } from './revocation.js';

/** What the uploader needs of the spool (probe/spool/spool.ts's Spool has all of it). */
export interface UploadSpool {
  pending(limit: number): Promise<Measurement[]>;
  ack(ids: string[]): Promise<void>;
  takeOverflow(): SpoolOverflow | null;
  confirmOverflowReported(dropped: number): Promise<void>;
}

export interface UploaderStatus {
  lastUploadAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  consecutiveFailures: number;
  /** When the next attempt is due after a failure (null while idle or working). */
  nextAttemptAt: string | null;
  /** Measurements the collector acknowledged (accepted or duplicate) since start. */
  uploaded: number;
  /** Measurements the collector refused (acked and dropped, each logged with its reason) since start. */
  rejected: number;
  /** When the collector's revocation of this probe stopped the uploads for good (null: not revoked; absent in older status files). */
  revokedAt?: string | null;
}

/** setTimeout and clearTimeout (the host's by default; fake ones in tests). */
export interface UploadTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const hostTimers: UploadTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export type UploadLog = (level: 'info' | 'warn' | 'error', msg: string, kind?: 'upload') => void;

export interface UploaderOptions {
  spool: UploadSpool;
  client: Pick<CollectorClient, 'upload'>;
  clock: Clock;
  batchSize: number;
  backoff: { baseMs: number; capMs: number };
  /** [0, 1); Math.random by default. */
  random?: () => number;
  onPinMismatch?: (evidence: TlsObservation) => void;
  log?: UploadLog;
  /** How long an idle uploader waits for a kick before looking at the spool anyway (default 5 min). */
  idleMs?: number;
  /** The longest stop() waits for the batch in flight (default 15 s). */
  stopTimeoutMs?: number;
  /** Called after every attempt (delivered, refused or failed), once status() reflects it. */
  onAttempt?: () => void;
  /** A cheap check that the collector answers (true) while a backoff runs; none = the backoff runs out. */
  reachable?: () => Promise<boolean>;
  /** How often reachable() is asked during a backoff, before jitter (default 30 s). */
  recheckMs?: number;
  /** The collector revoked this probe: called once, when the uploads stopped (without it the uploader logs it). */
  onRevoked?: (revocation: Revocation) => void;
  timers?: UploadTimers;
}

/** `recheck`: a backoff that reachable() may end early (the collector was unreachable or failing, not refusing). */
type Timed = { delay: number; mode: 'idle' | 'backoff' | 'now'; recheck?: boolean };
/** `revoked`: no next attempt at all. */
type Next = Timed | { mode: 'revoked' };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Uploader {
  private readonly opts: Required<Omit<UploaderOptions, 'onPinMismatch' | 'log' | 'onAttempt' | 'reachable' | 'onRevoked'>> &
    Pick<UploaderOptions, 'onPinMismatch' | 'log' | 'onAttempt' | 'reachable' | 'onRevoked'>;
  private timer: unknown = null;
  private recheckTimer: unknown = null;
  private waiting: Next['mode'] | null = null;
  private inFlight: Promise<void> | null = null;
  private kicked = false;
  private started = false;
  private stopped = false;
  private size: number;
  private readonly state: UploaderStatus = {
    lastUploadAt: null,
    lastError: null,
    lastErrorAt: null,
    consecutiveFailures: 0,
    nextAttemptAt: null,
    uploaded: 0,
    rejected: 0,
    revokedAt: null,
  };

  constructor(opts: UploaderOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
    if (!(opts.backoff.baseMs > 0) || !(opts.backoff.capMs >= opts.backoff.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs, got ${opts.backoff.baseMs} and ${opts.backoff.capMs}`);
    }
    this.opts = { random: Math.random, idleMs: 5 * 60_000, stopTimeoutMs: 15_000, recheckMs: 30_000, timers: hostTimers, ...opts };
    this.size = opts.batchSize;
  }

  /** Start uploading (the first attempt is made at once). */
  start(): void {
    if (this.started || this.stopped || this.state.revokedAt !== null) return;
    this.started = true;
    this.schedule({ delay: 0, mode: 'now' });
  }

  /** A measurement was spooled: upload soon if idle (a backoff is not cut short). */
  kick(): void {
    if (!this.started || this.stopped || this.state.revokedAt !== null) return;
    if (this.inFlight !== null) {
      this.kicked = true;
      return;
    }
    if (this.waiting === 'idle') this.schedule({ delay: 0, mode: 'now' });
  }

  /** Start no new batch; wait (at most stopTimeoutMs) for the one in flight to be answered and acked. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.opts.timers.clearTimeout(this.timer);
    this.timer = null;
    this.clearRecheck();
    this.waiting = null;
    this.state.nextAttemptAt = null;
    const running = this.inFlight;
    if (running === null) return;
    let bound: unknown = null;
    const timedOut = new Promise<'timeout'>((resolve) => {
      bound = this.opts.timers.setTimeout(() => resolve('timeout'), this.opts.stopTimeoutMs);
    });
    const outcome = await Promise.race([running.then(() => 'done' as const), timedOut]);
    this.opts.timers.clearTimeout(bound);
    if (outcome === 'timeout') this.opts.log?.('warn', `upload: stopped while a batch was still in flight after ${this.opts.stopTimeoutMs} ms; it stays in the spool and is resent next time`);
  }

  status(): UploaderStatus {
    return { ...this.state };
  }

  /**
   * The collector revoked this probe (seen by an upload, or by another request to it): no attempt
   * from now on, nothing acked or dropped. The first call counts; onRevoked is called once.
   */
  revoked(revocation: Revocation, error = `the collector revoked this probe: ${revocation.reason}`): void {
    if (this.state.revokedAt !== null) return;
    if (this.timer !== null) this.opts.timers.clearTimeout(this.timer);
    this.timer = null;
    this.clearRecheck();
    this.waiting = 'revoked';
    Object.assign(this.state, { revokedAt: revocation.seen_at, lastError: error, lastErrorAt: revocation.seen_at, consecutiveFailures: 0, nextAttemptAt: null });
    const { onRevoked, log } = this.opts;
    if (onRevoked === undefined) {
      log?.('error', `upload: ${error}; uploads stopped, the spool is kept`);
      return;
    }
    try {
      onRevoked(revocation);
    } catch (err) {
      log?.('error', `upload: revocation hook failed: ${message(err)}`);
    }
  }

  private schedule(next: Next): void {
    if (this.stopped) return;
    if (this.timer !== null) this.opts.timers.clearTimeout(this.timer);
    this.clearRecheck();
    this.waiting = next.mode;
    if (next.mode === 'revoked' || this.state.revokedAt !== null) {
      this.timer = null;
      this.state.nextAttemptAt = null;
      return;
    }
    this.state.nextAttemptAt = next.mode === 'backoff' ? new Date(this.opts.clock.now() + next.delay).toISOString() : null;
    this.timer = this.opts.timers.setTimeout(() => {
      this.timer = null;
      this.clearRecheck();
      this.waiting = null;
      this.state.nextAttemptAt = null;
      this.inFlight = this.attempt().finally(() => {
        this.inFlight = null;
      });
    }, next.delay);
    if (next.mode === 'backoff' && next.recheck === true) this.scheduleRecheck(this.opts.clock.now() + next.delay);
  }

  /** Ask reachable() after a jittered recheckMs, while the backoff ending at `until` still runs; the collector answering ends it. */
  private scheduleRecheck(until: number): void {
    const reachable = this.opts.reachable;
    if (reachable === undefined) return;
    const wait = Math.floor(this.opts.recheckMs * (0.75 + 0.5 * this.opts.random()));
    if (this.opts.clock.now() + wait >= until) return;
    this.recheckTimer = this.opts.timers.setTimeout(() => {
      this.recheckTimer = null;
      void reachable().then(
        (up) => this.rechecked(up, until),
        () => this.rechecked(false, until),
      );
    }, wait);
  }

  private rechecked(up: boolean, until: number): void {
    if (this.stopped || this.waiting !== 'backoff' || this.timer === null) return;
    if (up) {
      this.opts.log?.('info', 'upload: the collector answers again; sending the spool now');
      this.schedule({ delay: 0, mode: 'now' });
    } else this.scheduleRecheck(until);
  }

  private clearRecheck(): void {
    if (this.recheckTimer !== null) this.opts.timers.clearTimeout(this.recheckTimer);
    this.recheckTimer = null;
  }

  private async attempt(): Promise<void> {
    this.kicked = false;
    let next: Next;
    try {
      next = await this.once();
    } catch (err) {
      // The spool failed (disk full, closed): not the collector's fault, but retried the same way.
      if (this.stopped) return;
      next = this.failed(`spool: ${message(err)}`, undefined);
      this.opts.log?.('error', `upload: ${this.state.lastError}`);
    }
    if (this.kicked && next.mode === 'idle' && this.state.revokedAt === null) next = { delay: 0, mode: 'now' };
    this.schedule(next);
    try {
      this.opts.onAttempt?.();
    } catch (err) {
      this.opts.log?.('error', `upload: status hook failed: ${message(err)}`);
    }
  }

  private async once(): Promise<Next> {
    const { spool, client, log } = this.opts;
    const overflow = spool.takeOverflow();
    const limit = this.size;
    const batch = await spool.pending(limit);
    if (batch.length === 0 && overflow === null) {
      this.size = this.opts.batchSize;
      return { delay: this.opts.idleMs, mode: 'idle' };
    }

    let results: Awaited<ReturnType<UploaderOptions['client']['upload']>>;
    try {
      results = await client.upload(batch, overflow);
    } catch (err) {
      return this.uploadFailed(err, batch);
    }

    const ack: string[] = [];
    let accepted = 0;
    for (const r of results) {
      const m = batch[r.index];
      if (m === undefined) continue;
      ack.push(m.id);
      if (r.status === 'rejected') {
        this.state.rejected++;
        log?.('error', `upload: the collector REJECTED measurement ${m.id} (target ${m.target.id}): ${r.code ?? 'rejected'}: ${r.reason ?? 'no reason given'}; it is dropped from the spool`);
      } else accepted++;
    }
    await spool.ack(ack);
    if (overflow !== null) {
      await spool.confirmOverflowReported(overflow.dropped);
      log?.('warn', `upload: reported ${overflow.dropped} measurement(s) the full spool dropped between ${overflow.firstDroppedAt} and ${overflow.lastDroppedAt}`);
    }
    this.state.uploaded += accepted;
    this.state.lastUploadAt = new Date(this.opts.clock.now()).toISOString();
    if (batch.length > 0) {
      const duplicates = results.filter((r) => r.status === 'duplicate').length;
      const rejected = ack.length - accepted;
      const parts = [`${accepted - duplicates} accepted`, ...(duplicates > 0 ? [`${duplicates} already there`] : []), ...(rejected > 0 ? [`${rejected} rejected`] : [])];
      log?.('info', `uploaded ${batch.length} measurement${batch.length === 1 ? '' : 's'} (${parts.join(', ')})`, 'upload');
    }
    this.state.consecutiveFailures = 0;
    // A full batch means more may be waiting (at the size that worked); a partial one drained the spool.
    if (batch.length > 0 && batch.length >= limit) return { delay: 0, mode: 'now' };
    this.size = this.opts.batchSize;
    return { delay: this.opts.idleMs, mode: 'idle' };
  }

  private async uploadFailed(err: unknown, batch: Measurement[]): Promise<Next> {
    const { log, spool } = this.opts;
    if (err instanceof UploadError && err.kind === 'revoked' && err.revocation !== undefined) {
      // Refused for good: not a failure to back off from. The batch is not acked: it stays in the spool.
      this.revoked(err.revocation, err.message);
      return { mode: 'revoked' };
    }
    if (err instanceof UploadError && err.kind === 'pin_mismatch') {
      log?.('error', `UPLOAD REFUSED — POSSIBLE INTERCEPTION: ${err.message}. Nothing was sent; the handshake is recorded as a tls.interception measurement of the collector.`);
      if (err.pinEvidence !== undefined) {
        try {
          this.opts.onPinMismatch?.(err.pinEvidence);
        } catch (hookErr) {
          log?.('error', `upload: recording the interception failed: ${message(hookErr)}`);
        }
      }
      return this.failed(err.message, undefined);
    }
    if (err instanceof UploadError && err.kind === 'rejected_batch' && err.status === 413) {
      if (batch.length > 1) {
        this.size = Math.max(1, Math.floor(batch.length / 2));
        log?.('warn', `upload: the collector found a batch of ${batch.length} too large (${err.message}); trying ${this.size} at a time`);
        return { delay: 0, mode: 'now' };
      }
      const only = batch[0];
      if (only !== undefined) {
        await spool.ack([only.id]);
        this.state.rejected++;
        log?.('error', `upload: the collector REJECTED measurement ${only.id} (target ${only.target.id}) as too large on its own (${err.message}); it is dropped from the spool`);
        return { delay: 0, mode: 'now' };
      }
    }
    const retryAfterMs = err instanceof UploadError ? err.retryAfterMs : undefined;
    const next = this.failed(message(err), retryAfterMs);
    // Unreachable or failing (not refusing, and not asking for a wait): its return is looked for during the backoff.
    if (retryAfterMs === undefined && err instanceof UploadError && (err.kind === 'network' || (err.status !== undefined && err.status >= 500))) next.recheck = true;
    const level = err instanceof UploadError && (err.kind === 'network' || err.status === 429 || err.status === 503) ? 'warn' : 'error';
    log?.(level, `upload failed (${this.state.consecutiveFailures} in a row, next try in ${Math.round(next.delay / 1000)} s): ${this.state.lastError}`);
    return next;
  }

  /** Count a failure and compute the wait before the next try. */
  private failed(error: string, retryAfterMs: number | undefined): Timed {
    const now = this.opts.clock.now();
    this.state.consecutiveFailures++;
    this.state.lastError = error;
    this.state.lastErrorAt = new Date(now).toISOString();
    const { baseMs, capMs } = this.opts.backoff;
    const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(this.state.consecutiveFailures - 1, 52));
    const delay = retryAfterMs !== undefined ? retryAfterMs : Math.floor(this.opts.random() * ceiling);
    return { delay, mode: 'backoff' };
  }
}
