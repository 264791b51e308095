// The blocked share of each series per detector bucket, read from the detector's counts: what the time series chart as the detector sees it.
import { SCALE, type Level } from './buckets.js';
import type { EventDetector } from './detector.js';
import { METHODS, type EventMethod, type Observation } from './observation.js';

/** One series in one bucket: the share of its probes' measurements that were blocked by `method`, each probe weighing the same. */
export interface SeriesShare {
  /** A target id, or '*' for the series of a network's probes going offline (method `shutdown`). */
  target: string;
  level: Level;
  asn: number | null;
  cc: string | null;
  method: EventMethod;
  /** Start of the bucket, epoch ms. */
  start: number;
  /** 0..1. */
  share: number;
  /** Probes whose measurements in the bucket were mostly blocked that way. */
  blocked_probes: number;
  /** Trusted probes with a measurement in the bucket. */
  probes: number;
  measurements: number;
}

/** The group keys (as the detector names them) and bucket an observation counts in: `key|bucket`. */
export function touchedBuckets(obs: Observation, bucketMs: number, into: Set<string>): void {
  const b = Math.floor(obs.time / bucketMs);
  if (obs.asn !== null) {
    into.add(`*/AS${obs.asn}|${b}`);
    into.add(`${obs.target}/AS${obs.asn}|${b}`);
  }
  if (obs.cc !== null) {
    into.add(`*/${obs.cc}|${b}`);
    into.add(`${obs.target}/${obs.cc}|${b}`);
  }
}

/**
 * The shares of one `key|bucket` (see touchedBuckets): a share per method the series was ever
 * blocked by (0 in a bucket without such a measurement), none for a series never blocked.
 */
export function sharesOf(detector: EventDetector, touched: string): SeriesShare[] {
  const bar = touched.lastIndexOf('|');
  const group = detector.groups.get(touched.slice(0, bar));
  if (group === undefined) return [];
  const b = Number(touched.slice(bar + 1));
  const bucket = group.buckets.get(b);
  if (bucket === undefined || bucket.np === 0) return [];
  const out: SeriesShare[] = [];
  const cc = group.level === 'country' ? group.cc : ([...group.ccs].sort()[0] ?? null);
  for (let m = 0; m < group.methods; m++) {
    if (group.active[m] === 0) continue;
    const cell = bucket.cells[m];
    out.push({
      target: group.target,
      level: group.level,
      asn: group.asn,
      cc,
      method: group.shutdown ? 'shutdown' : METHODS[m]!,
      start: b * detector.config.bucket_ms,
      share: cell === undefined ? 0 : Math.min(1, cell.share / SCALE / bucket.np),
      blocked_probes: cell?.probes.length ?? 0,
      probes: bucket.np,
      measurements: bucket.obs,
    });
  }
  return out;
}
