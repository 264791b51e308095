// The detector's blocked share per series and bucket as `blocked_share` points in InfluxDB, rewritten whenever new measurements change a bucket.
import type { Clock } from '../../../common/clock.js';
import type { EventDetector } from '../../events/detector.js';
import type { Observation } from '../../events/observation.js';
import { sharesOf, touchedBuckets, type SeriesShare } from '../../events/shares.js';
import type { DeliveryLogger } from './delivery.js';
import { floatField, integerField, line } from './line.js';
import { BackgroundPoints } from './pending-points.js';
import type { LineWriter } from './writer.js';

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
export class SharePoints extends BackgroundPoints {
  private pending = new Set<string>();

  constructor(private readonly so: SharePointsOptions) {
    super(so);
  }

  /** Buckets of series waiting to be written. */
  backlog(): number {
    return this.pending.size;
  }

  /** The observations just counted: their buckets are written at the next flush. */
  note(observations: readonly Observation[]): void {
    const bucketMs = this.so.detector().config.bucket_ms;
    for (const obs of observations) touchedBuckets(obs, bucketMs, this.pending);
  }

  /** Mark every bucket the detector holds (at start: what a previous run left unwritten is among them). */
  noteAll(): void {
    for (const group of this.so.detector().groups.values()) for (const b of group.buckets.keys()) this.pending.add(`${group.key}|${b}`);
  }

  protected async writePending(): Promise<void> {
    const detector = this.so.detector();
    const size = this.so.batchSize ?? 5000;
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
      const delivered = await this.deliver(lines);
      if (!delivered) {
        for (const key of keys) this.pending.add(key);
        return;
      }
    }
  }
}
