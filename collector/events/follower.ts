// The event detector as a follower of the archive: observes every archived measurement, keeps events and their revisions in the event store.
import type { Clock } from '../../common/clock.js';
import { catchUp } from '../pipeline/catch-up.js';
import type { Follower } from '../pipeline/follower.js';
import type { AppendedSpan, ArchiveReader, ArchiveCursor, ArchivedRecord } from '../storage/archive.js';
import type { RecordDigest } from '../storage/record-digest.js';
import type { EventStore } from '../storage/event-store.js';
import type { DetectorConfig } from './config.js';
import { EventDetector } from './detector.js';
import { observationFromRecord, type Observation } from './observation.js';
import type { BlockingEvent, Revision } from './types.js';

export interface EventFollowerLog {
  info(message: string): void;
  error(message: string): void;
}

export interface EventFollowerOptions {
  archive: ArchiveReader;
  store: EventStore;
  clock: Clock;
  detector: Partial<DetectorConfig>;
  /** Probes whose measurements do not count (revoked, or control vantages). */
  excluded?: (probeId: string) => boolean;
  /** How often time moves on for the detector (gaps close events) and its state is saved. Default 60 s. */
  tickMs?: number;
  /**
   * Each offer is counted at once; the events of what was counted are derived at most this often
   * (and at every tick, catch-up, read through `settle()` and stop), so that deriving them costs
   * once per period, not once per batch. 0 derives after every offer. Default 1000 ms.
   */
  detectEveryMs?: number;
  /** Called with every batch of revisions, once they are saved (webhook, time series, surge). */
  onRevisions?: (revisions: readonly Revision[]) => void;
  /** Called with the observations of every batch once counted (the blocked-share time series). */
  onObserved?: (observations: readonly Observation[]) => void;
  log?: EventFollowerLog;
}

/**
 * Synchronous like the store's index: an offer is observed and its revisions saved before it
 * returns. The detector's state is saved every tick and at stop with the archive position it had
 * reached; after a crash the follower restores it and replays the archive from there (revisions
 * made after the snapshot are made again). A failure to observe or save puts the follower behind:
 * it declines offers, goes back to its snapshot and re-reads the archive from there until it is
 * caught up.
 */
export class EventFollower implements Follower {
  readonly name = 'events';
  private detector: EventDetector;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private behind = false;
  private resyncing: Promise<void> | null = null;
  private declinedDuringResync = 0;
  /** Position after the last record observed (saved with the changes). */
  private position: ArchiveCursor | null = null;
  private readonly log: EventFollowerLog;
  private readonly detectEveryMs: number;
  /** When events were last derived (monotonic ms), and the timer that derives the ones counted since. */
  private lastDetect = -Infinity;
  private detectTimer: NodeJS.Timeout | null = null;
  /** Time spent counting, deriving and saving (ns of the main thread, whose work is synchronous), and observations counted. */
  private busyNs = 0n;
  private counted = 0;

  constructor(private readonly o: EventFollowerOptions) {
    this.detector = new EventDetector(o.detector, { clock: o.clock });
    this.log = o.log ?? { info: () => undefined, error: (m) => console.error(`events: ${m}`) };
    this.detectEveryMs = o.detectEveryMs ?? 1000;
  }

  /** The detector's work since start: seconds of the main thread spent in it, and the observations it counted. */
  get work(): { busySeconds: number; observations: number } {
    return { busySeconds: Number(this.busyNs) / 1e9, observations: this.counted };
  }

  /** `task`, with the time it takes counted as the detector's work. */
  private timed<T>(task: () => T): T {
    const start = process.hrtime.bigint();
    try {
      return task();
    } finally {
      this.busyNs += process.hrtime.bigint() - start;
    }
  }

  /** The live detector (events, incidents, chronic blocks as they stand). */
  get current(): EventDetector {
    return this.detector;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.restore();
    await this.catchUpFrom(this.position);
    this.tick();
    this.running = true;
    const every = this.o.tickMs ?? 60_000;
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
  }

  offer(records: readonly ArchivedRecord[], span: AppendedSpan): boolean {
    return this.offerDigests(records, span);
  }

  offerDigests(records: readonly RecordDigest[], span: AppendedSpan): boolean {
    if (!this.running) return false;
    if (this.behind) {
      this.declinedDuringResync++;
      return false;
    }
    try {
      this.timed(() => this.apply(records, span.to, false));
      return true;
    } catch (err) {
      this.log.error(`observing archived measurements failed (reading them from the archive again): ${(err as Error).message}`);
      this.fallBehind();
      return false;
    }
  }

  backlog(): number {
    return this.behind ? Math.max(1, this.declinedDuringResync) : 0;
  }

  async rewind(): Promise<void> {
    this.o.store.reset();
    this.detector = new EventDetector(this.o.detector, { clock: this.o.clock });
    this.position = null;
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.clearDetectTimer();
    await this.resyncing;
    if (!this.behind) this.settle();
    this.snapshot();
  }

  /**
   * Derive now the events of what was counted and not yet derived (a reader of the event store
   * calls this first, so that it sees every accepted measurement's effect).
   */
  settle(): void {
    if (this.behind || !this.detector.pending) return;
    try {
      this.timed(() => this.detectPending());
    } catch (err) {
      this.log.error(`deriving events failed (reading the archive again): ${(err as Error).message}`);
      this.fallBehind();
    }
  }

  /**
   * Count `records` (archive order); their events are derived at once when `now` is set or
   * detectEveryMs has passed since the last time, else by a timer. Returns how many were counted.
   */
  private apply(records: readonly RecordDigest[], cursor: ArchiveCursor, now: boolean): number {
    const excluded = this.o.excluded;
    const observations: Observation[] = [];
    for (const r of records) if (excluded === undefined || !excluded(r.probe_id)) observations.push(observationFromRecord(r));
    if (observations.length > 0) this.detector.count(observations);
    this.counted += observations.length;
    this.position = cursor;
    if (observations.length > 0) this.o.onObserved?.(observations);
    if (now || this.o.clock.monotonic() - this.lastDetect >= this.detectEveryMs) this.detectPending();
    else this.detectTimer ??= setTimeout(() => {
      this.detectTimer = null;
      this.settle();
    }, Math.max(0, this.lastDetect + this.detectEveryMs - this.o.clock.monotonic())).unref();
    return observations.length;
  }

  /** Derive the counted events and save the revisions with the position reached. */
  private detectPending(): void {
    this.clearDetectTimer();
    this.lastDetect = this.o.clock.monotonic();
    this.save(this.detector.detectNow(), this.position, false);
  }

  private clearDetectTimer(): void {
    if (this.detectTimer !== null) clearTimeout(this.detectTimer);
    this.detectTimer = null;
  }

  /** Time moves on: events whose series went quiet close (and what was counted is derived); the state is saved. */
  private tick(): void {
    if (this.behind) return;
    try {
      this.timed(() => {
        this.clearDetectTimer();
        this.lastDetect = this.o.clock.monotonic();
        const revisions = this.detector.advance(this.o.clock.now());
        this.save(revisions, this.position, true);
        this.snapshot();
      });
    } catch (err) {
      this.log.error(`saving the event detector's state failed: ${(err as Error).message}`);
    }
  }

  private save(revisions: readonly Revision[], cursor: ArchiveCursor | null, withChronic: boolean): void {
    if (revisions.length === 0 && cursor === null && !withChronic) return;
    const latest = new Map<string, BlockingEvent>();
    for (const r of revisions) latest.set(r.event_id, r.event);
    this.o.store.apply({
      revisions,
      events: [...latest.values()],
      incidents: revisions.length > 0 ? this.detector.incidents() : null,
      chronic: withChronic ? this.detector.chronic() : null,
      cursor,
    });
    if (revisions.length > 0) this.o.onRevisions?.(revisions);
  }

  private snapshot(): void {
    this.o.store.saveSnapshot({ state: this.detector.save(), cursor: this.position, seq: this.o.store.lastSeq() });
  }

  /** Back to the saved state: the detector as of the snapshot, the store trimmed to it. */
  private restore(): void {
    const snap = this.o.store.snapshot();
    if (snap === null) {
      // Nothing saved: start from the archive's beginning (a fresh store, or one from before events existed).
      this.o.store.reset();
      this.position = null;
      return;
    }
    this.detector = EventDetector.restore(snap.state, { clock: this.o.clock });
    this.position = snap.cursor;
    const seq = this.detector.revisions().at(-1)?.seq ?? 0;
    this.o.store.restoreTo(seq, this.detector.events({ include_retracted: true }), this.detector.incidents(), this.detector.chronic(), snap.cursor);
  }

  private async catchUpFrom(from: ArchiveCursor | null): Promise<number> {
    const summary = await catchUp(this.o.archive, from, (records, cursor) => this.apply(records, cursor, false));
    if (this.detector.pending) this.detectPending();
    return summary.added;
  }

  private fallBehind(): void {
    this.behind = true;
    this.resyncing ??= (async () => {
      let failures = 0;
      while (this.behind) {
        this.declinedDuringResync = 0;
        try {
          // What failed may have been observed but not saved: start again from the saved state.
          this.restore();
          await this.catchUpFrom(this.position);
          if (this.declinedDuringResync === 0) this.behind = false;
          failures = 0;
        } catch (err) {
          failures++;
          this.log.error(`catching up with the archive failed: ${(err as Error).message}`);
          if (!this.running) break;
          await new Promise((resolve) => setTimeout(resolve, Math.min(60_000, 1000 * 2 ** failures)));
        }
      }
      this.resyncing = null;
    })();
  }
}
