// Per-series counts by time bucket: the detector's only memory of measurements, from which events are derived.
import { METHODS } from './observation.js';

/**
 * Shares are kept as integers scaled by SCALE, so sums do not depend on the order in which
 * measurements arrive (a probe's share is b/n; SCALE is divisible by every n up to 16).
 */
export const SCALE = 720_720;
/** Bins of the per-series histogram of bucket shares, from which the baseline (median) is read. */
export const BINS = 20;

/** The counts of one method in one bucket; present only once the bucket has a blocked measurement of it. */
export interface MethodCell {
  /** Sum over probes of the probe's blocked share in this bucket, times SCALE. */
  share: number;
  blocked: number;
  partial: number;
  /** Sum of the blocked measurements' confidence, in thousandths. */
  conf: number;
  /** Probe indices (ascending) whose blocked share in the bucket is at least one half. */
  probes: number[];
  min_time: number;
  max_time: number;
  /** The smallest blocked measurement id (a deterministic example). */
  min_id: string;
}

/**
 * A probe's measurements of the series in one bucket. One measurement (the usual case) is a number:
 * 0 = not blocked, 1 + method = blocked, +16 when partial. More than one is a ProbeTally.
 */
export type ProbeCell = number | ProbeTally;
export interface ProbeTally {
  n: number;
  blocked: number[];
}

export interface Bucket {
  /** Trusted probes with data (each weighs one). */
  np: number;
  /** Measurements counted. */
  obs: number;
  cells: Array<MethodCell | undefined>;
  /** Per-probe detail while the bucket is inside the horizon; null once compacted. */
  probes: Map<number, ProbeCell> | null;
}

export type Level = 'asn' | 'country';

/** A (target, network) pair, or a network's shutdown series (target '*'): one bucket map for all its methods. */
export class Group {
  readonly buckets = new Map<number, Bucket>();
  /** hist[method][bin]: buckets by share bin. */
  readonly hist: Int32Array[];
  /** Buckets with a blocked measurement, per method (a method without any is skipped by detection). */
  readonly active: Int32Array;
  minB = Infinity;
  maxB = -Infinity;
  /** The lowest and highest bucket touched since the last detection, or null. */
  dirtyLo: number | null = null;
  dirtyHi: number | null = null;
  readonly ccs = new Set<string>();
  readonly categories = new Set<string>();

  constructor(
    readonly key: string,
    readonly target: string,
    readonly level: Level,
    readonly asn: number | null,
    readonly cc: string | null,
    readonly methods: number,
  ) {
    this.hist = Array.from({ length: methods }, () => new Int32Array(BINS + 1));
    this.active = new Int32Array(methods);
  }

  get shutdown(): boolean {
    return this.target === '*';
  }

  /**
   * Count one measurement of probe `probe`: `method` is the blocked method index or -1. `mirror`
   * (the country group of this ASN group) gets the same changes without keeping per-probe detail
   * of its own. A measurement for a compacted bucket counts as a probe of its own; `detail` false
   * (the bucket is outside the horizon) creates a missing bucket compacted.
   */
  add(b: number, probe: number, method: number, partial: boolean, conf: number, time: number, id: string, mirror: Group | null = null, detail = true): void {
    const bucket = this.bucketAt(b, detail);
    const mb = mirror === null ? null : mirror.bucketAt(b, false);
    this.snapshot(bucket);
    if (mirror !== null) mirror.snapshot(mb!);
    const previous = bucket.probes === null ? undefined : bucket.probes.get(probe);
    if (previous === undefined) {
      bucket.np++;
      if (mb !== null) mb.np++;
      if (bucket.probes !== null) bucket.probes.set(probe, method < 0 ? 0 : 1 + method + (partial ? 16 : 0));
      if (method >= 0) {
        this.contribute(bucket, method, probe, SCALE, true);
        if (mirror !== null) mirror.contribute(mb!, method, probe, SCALE, true);
      }
    } else {
      const tally: ProbeTally =
        typeof previous === 'number' ? { n: 1, blocked: new Array<number>(this.methods).fill(0) } : previous;
      if (typeof previous === 'number' && previous !== 0) tally.blocked[(previous & 15) - 1] = 1;
      // Take the probe's old shares out, count the measurement, put the new shares in.
      for (let m = 0; m < this.methods; m++) {
        const k = tally.blocked[m]!;
        if (k === 0) continue;
        this.contribute(bucket, m, probe, -share(k, tally.n), 2 * k >= tally.n);
        if (mirror !== null) mirror.contribute(mb!, m, probe, -share(k, tally.n), 2 * k >= tally.n);
      }
      tally.n++;
      if (method >= 0) tally.blocked[method]!++;
      for (let m = 0; m < this.methods; m++) {
        const k = tally.blocked[m]!;
        if (k === 0) continue;
        this.contribute(bucket, m, probe, share(k, tally.n), 2 * k >= tally.n);
        if (mirror !== null) mirror.contribute(mb!, m, probe, share(k, tally.n), 2 * k >= tally.n);
      }
      bucket.probes!.set(probe, tally);
    }
    this.tally(bucket, b, method, partial, conf, time, id);
    if (mirror !== null) mirror.tally(mb!, b, method, partial, conf, time, id);
  }

  private bucketAt(b: number, detail: boolean): Bucket {
    let bucket = this.buckets.get(b);
    if (bucket === undefined) {
      bucket = { np: 0, obs: 0, cells: new Array(this.methods).fill(undefined), probes: detail ? new Map() : null };
      this.buckets.set(b, bucket);
      if (b < this.minB) this.minB = b;
      if (b > this.maxB) this.maxB = b;
    }
    return bucket;
  }

  /** The bins of a bucket before a change (np 0 = not yet in the histogram). */
  private readonly before: Int32Array = new Int32Array(8);
  private snapshot(bucket: Bucket): void {
    for (let m = 0; m < this.methods; m++) this.before[m] = bucket.np === 0 ? -1 : binOf(bucket.cells[m]?.share ?? 0, bucket.np);
  }

  private tally(bucket: Bucket, b: number, method: number, partial: boolean, conf: number, time: number, id: string): void {
    bucket.obs++;
    if (method >= 0) {
      const cell = bucket.cells[method]!;
      cell.blocked++;
      if (partial) cell.partial++;
      cell.conf += Math.round(conf * 1000);
      if (time < cell.min_time) cell.min_time = time;
      if (time > cell.max_time) cell.max_time = time;
      if (cell.min_id === '' || id < cell.min_id) cell.min_id = id;
    }
    for (let m = 0; m < this.methods; m++) {
      const after = binOf(bucket.cells[m]?.share ?? 0, bucket.np);
      const before = this.before[m]!;
      if (before === after) continue;
      const hist = this.hist[m]!;
      if (before >= 0) hist[before]!--;
      hist[after]!++;
    }
    if (this.dirtyLo === null || b < this.dirtyLo) this.dirtyLo = b;
    if (this.dirtyHi === null || b > this.dirtyHi) this.dirtyHi = b;
  }

  /** Add (delta > 0) or take out (delta < 0) a probe's share of one method; `half` = the share is >= 1/2. */
  private contribute(bucket: Bucket, m: number, probe: number, delta: number, half: boolean): void {
    let cell = bucket.cells[m];
    if (cell === undefined) {
      cell = { share: 0, blocked: 0, partial: 0, conf: 0, probes: [], min_time: Infinity, max_time: -Infinity, min_id: '' };
      bucket.cells[m] = cell;
      this.active[m]!++;
    }
    cell.share += delta;
    if (!half) return;
    const list = cell.probes;
    if (delta > 0) insertSorted(list, probe);
    else {
      const at = list.indexOf(probe);
      if (at >= 0) list.splice(at, 1);
    }
  }

  /** The median bucket share of a method (lower edge of its bin): the series' baseline. */
  baseline(m: number): number {
    const hist = this.hist[m]!;
    let total = 0;
    for (let i = 0; i <= BINS; i++) total += hist[i]!;
    if (total === 0) return 0;
    let seen = 0;
    for (let i = 0; i <= BINS; i++) {
      seen += hist[i]!;
      if (2 * seen >= total) return i / BINS;
    }
    return 1;
  }

  /**
   * Drop the per-probe detail of buckets before `before` (a late measurement there counts as a
   * probe of its own). Those before `from` are compacted already: only the buckets in between are
   * looked at when that is fewer than all.
   */
  compact(before: number, from = -Infinity): number {
    let dropped = 0;
    if (Number.isFinite(from) && before - from < this.buckets.size) {
      for (let b = from; b < before; b++) {
        const bucket = this.buckets.get(b);
        if (bucket !== undefined && bucket.probes !== null) {
          bucket.probes = null;
          dropped++;
        }
      }
      return dropped;
    }
    for (const [b, bucket] of this.buckets) {
      if (b < before && bucket.probes !== null) {
        bucket.probes = null;
        dropped++;
      }
    }
    return dropped;
  }

  /** Rebuild the histograms and active counts from the buckets (after restoring a saved state). */
  reindex(): void {
    for (const hist of this.hist) hist.fill(0);
    this.active.fill(0);
    for (const bucket of this.buckets.values()) {
      for (let m = 0; m < this.methods; m++) {
        this.hist[m]![binOf(bucket.cells[m]?.share ?? 0, bucket.np)]!++;
        if (bucket.cells[m] !== undefined) this.active[m]!++;
      }
    }
  }
}

/** A probe's share k/n times SCALE (exact for n <= 16, deterministic beyond). */
function share(k: number, n: number): number {
  return Math.round((k * SCALE) / n);
}

function binOf(shareSum: number, np: number): number {
  if (np === 0) return 0;
  return Math.min(BINS, Math.floor((shareSum * BINS) / (np * SCALE)));
}

function insertSorted(list: number[], value: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > value) i--;
  if (list[i - 1] === value) return;
  list.splice(i, 0, value);
}

export const TARGET_METHODS = METHODS.length;
