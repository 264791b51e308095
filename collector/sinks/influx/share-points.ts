// The detector's blocked share per series and bucket as `blocked_share` points in InfluxDB, rewritten whenever new measurements change a bucket.
import type { Clock } from '../../../common/clock.js';
import type { EventDetector } from '../../events/detector.js';
import type { Observation } from '../../events/observation.js';
import { sharesOf, touchedBuckets, type SeriesShare } from '../../events/shares.js';
import { retryDelay } from './backoff.js';
import { Delivery, type DeliveryLogger } from './delivery.js';
import { floatField, integerField, line } from './line.js';
import type { LineWriter } from './writer.js';
import { Sleeps } from '../../../common/sleeps.js';

export const BLOCKED_SHARE = 'blocked_share';

/**
 * `blocked_share` point: tags target ("all" for a network's probes going offline, method
 * `shutdown`), level (asn or country), asn ("unknown" at country level), cc, method; fields share
 * (0..1, each probe weighing the same), blocked_probes, probes, measurements. Time: the bucket's
 * start, so a rewrite of the bucket overwrites its point.
 */
export function shareLine(s: SeriesShare): string {
  return line(
    BLOCKED_SHARE,
    [
      ['target', s.target === '*' ? 'all' : s.target],
      ['level', s.level],
      ['asn', s.asn === null ? 'unknown' : String(s.asn)],
      ['cc', s.cc ?? 'unknown'],
      ['method', s.method],
    ],
    [
      ['share', floatField(s.share)],
      ['blocked_probes', integerField(s.blocked_probes)],
      ['probes', integerField(s.probes)],
      ['measurements', integerField(s.measurements)],
    ],
    `${s.start}000000`,
  );
}

export interface SharePointsOptions {
  writer: LineWriter;
  /** The detector whose counts are read (the event follower's current one). */
  detector: () => EventDetector;
  clock: Clock;
  logger: DeliveryLogger;
  /** How often touched buckets are written. Default 10 s. */
  flushEveryMs?: number;
  /** Lines per write request. Default 5000. */
  batchSize?: number;
}

/**
 * Collects the buckets observations touched and writes their shares in the background. A bucket is
 * forgotten only once InfluxDB acknowledged its points; while InfluxDB fails, writes are retried
 * with backoff. What was pending when the process stopped is rewritten at the next start, which
 * rewrites every bucket the detector still holds in detail (its horizon).
 */
export class SharePoints {
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private flushing: Promise<void> | null = null;
  private readonly delivery: Delivery;
  private readonly sleeps = new Sleeps();

  constructor(private readonly o: SharePointsOptions) {
    this.delivery = new Delivery({
      writer: o.writer,
      clock: o.clock,
      logger: o.logger,
      delay: (attempt) => retryDelay(attempt, { initialMs: 250, maxMs: 30_000, factor: 2, random: Math.random }),
      maxRetryDelayMs: 30_000,
      running: () => this.running,
      sleep: (ms) => this.sleeps.sleep(ms),
      onRecovered: () => undefined,
    });
  }

  /** Buckets of series waiting to be written. */
  backlog(): number {
    return this.pending.size;
  }

  /** The observations just counted: their buckets are written at the next flush. */
  note(observations: readonly Observation[]): void {
    const bucketMs = this.o.detector().config.bucket_ms;
    for (const obs of observations) touchedBuckets(obs, bucketMs, this.pending);
  }

  /** Mark every bucket the detector holds (at start: what a previous run left unwritten is among them). */
  noteAll(): void {
    for (const group of this.o.detector().groups.values()) for (const b of group.buckets.keys()) this.pending.add(`${group.key}|${b}`);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => void this.flush(), this.o.flushEveryMs ?? 10_000);
    this.timer.unref();
  }

  /** Write what is pending (one flush at a time); resolves once InfluxDB took it, or the sink stopped. */
  flush(): Promise<void> {
    this.flushing ??= this.writePending().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.running = false;
    this.sleeps.wakeAll();
    await this.flushing;
    this.o.writer.close?.();
  }

  private async writePending(): Promise<void> {
    const detector = this.o.detector();
    const size = this.o.batchSize ?? 5000;
    while (this.running && this.pending.size > 0) {
      const keys: string[] = [];
      const lines: string[] = [];
      for (const key of this.pending) {
        keys.push(key);
        for (const s of sharesOf(detector, key)) lines.push(shareLine(s));
        if (lines.length >= size) break;
      }
      // A bucket touched again while this write is in flight stays pending (re-added by note()).
      for (const key of keys) this.pending.delete(key);
      const delivered = await this.delivery.deliver(lines);
      if (!delivered) {
        for (const key of keys) this.pending.add(key);
        return;
      }
    }
  }
}
