// Pure derivation of a series' episodes (confirmed blocking intervals) from its bucket counts.
import type { DetectorConfig } from './config.js';
import { windowBuckets } from './config.js';
import { SCALE, type Group } from './buckets.js';

/** A confirmed interval of one series, before it is published as an event. */
export interface Episode {
  /** First bucket of the first hot window, last bucket of the last hot window. */
  first: number;
  last: number;
  open: boolean;
  /** Earliest blocked measurement of the first hot window; latest of the last hot window (ms). */
  start: number;
  end: number;
  probes: number[];
  blocked: number;
  obs: number;
  partial: number;
  /** Sum of blocked confidence, thousandths. */
  conf: number;
  /** Mean over hot windows of share - baseline. */
  excess: number;
  examples: string[];
  /** Confirmed by one probe's persistence, not by min_probes probes. */
  single: boolean;
}

/** What the derivation asks the detector about probes. */
export interface ProbeOracle {
  /** Whether the probe's measurements of all targets in [from, to) ms were mostly fine. */
  healthy(probe: number, from: number, to: number): boolean;
  /** Distinct ASNs of these probes. */
  asnCount(probes: readonly number[]): number;
}

export const EMPTY = 0;
export const COOL = 1;
export const WARM = 2;
export const HOT_SINGLE = 3;
export const HOT_MULTI = 4;

const EPS = 1e-9;

/** Classifies the windows (one probe interval of buckets ending at b) of one series. */
export class WindowJudge {
  readonly w: number;
  private readonly openAt: number;
  private readonly closeAt: number;
  private readonly singleAt: number;
  /** Probes of the last window judged hot. */
  union: number[] = [];
  frac = 0;

  constructor(
    private readonly group: Group,
    private readonly m: number,
    readonly beta: number,
    private readonly config: DetectorConfig,
    private readonly oracle: ProbeOracle,
    private readonly national: boolean,
  ) {
    this.w = windowBuckets(config);
    this.openAt = beta + config.open_delta - EPS;
    this.closeAt = beta + config.close_delta - EPS;
    this.singleAt = Math.max(config.single_probe_share, beta + config.open_delta) - EPS;
  }

  judge(b: number): number {
    const { group, m } = this;
    let np = 0;
    let share = 0;
    let lists = 0;
    let only: number[] | null = null;
    for (let i = b - this.w + 1; i <= b; i++) {
      const bucket = group.buckets.get(i);
      if (bucket === undefined) continue;
      np += bucket.np;
      const cell = bucket.cells[m];
      if (cell !== undefined) {
        share += cell.share;
        if (cell.probes.length > 0) {
          lists++;
          only = cell.probes;
        }
      }
    }
    if (np === 0) return EMPTY;
    const frac = share / (np * SCALE);
    this.frac = frac;
    if (frac < this.closeAt) return COOL;
    if (frac < this.openAt) return WARM;
    const union = lists === 1 ? only! : this.unionOf(b);
    this.union = union;
    if (union.length >= this.config.min_probes && union.length >= 1) {
      if (!this.national || this.oracle.asnCount(union) >= this.config.shutdown_min_asns) return HOT_MULTI;
      return WARM;
    }
    if (group.shutdown || union.length !== 1 || frac < this.singleAt) return WARM;
    const from = (b - this.w + 1) * this.config.bucket_ms;
    return this.oracle.healthy(union[0]!, from, (b + 1) * this.config.bucket_ms) ? HOT_SINGLE : WARM;
  }

  private unionOf(b: number): number[] {
    const set = new Set<number>();
    for (let i = b - this.w + 1; i <= b; i++) {
      const cell = this.group.buckets.get(i)?.cells[this.m];
      if (cell !== undefined) for (const p of cell.probes) set.add(p);
    }
    return [...set].sort((x, y) => x - y);
  }
}

/** The bucket after the last cool window before `lo`: the state there is idle whatever came before. */
export function anchorBefore(judge: WindowJudge, group: Group, lo: number): number {
  for (let a = lo - 1; a >= group.minB; a--) {
    if (judge.judge(a) === COOL) return a + 1;
  }
  return group.minB;
}

export interface SpanResult {
  episodes: Episode[];
  /** Windows [from, to] were re-derived; episodes with `first` in this range replace the old ones. */
  from: number;
  to: number;
}

/**
 * Episodes with their first hot window in [from, ...], scanning until the first cool window at or
 * after `until` (or the series' last bucket). `nowB` is the detector's present, for the gap rule.
 */
export function deriveSpan(
  judge: WindowJudge,
  group: Group,
  m: number,
  config: DetectorConfig,
  from: number,
  until: number,
  nowB: number,
): SpanResult {
  const bucketMs = config.bucket_ms;
  const gapBuckets = Math.floor(config.max_gap_ms / bucketMs);
  const openAfter = Math.ceil(config.open_after_ms / bucketMs);
  const singleAfter = Math.ceil(config.single_probe_after_ms / bucketMs);
  const episodes: Episode[] = [];
  // State: 0 idle, 1 candidate, 2 open.
  let state = 0;
  let firstHot = 0;
  let firstMulti = -1;
  let lastHot = 0;
  let lastData = 0;
  let hotWindows = 0;
  let excess = 0;
  let viaSingle = false;
  const end = group.maxB + judge.w - 1;
  let b = from;
  for (; b <= end; b++) {
    const kind = judge.judge(b);
    if (kind === EMPTY) {
      if (state !== 0 && b - lastData > gapBuckets) {
        if (state === 2) episodes.push(summarise(group, m, config, judge, firstHot, lastHot, false, excess / hotWindows, viaSingle));
        state = 0;
      }
      continue;
    }
    lastData = b;
    if (kind === COOL) {
      if (state === 2) episodes.push(summarise(group, m, config, judge, firstHot, lastHot, false, excess / hotWindows, viaSingle));
      state = 0;
      if (b >= until) break;
      continue;
    }
    if (kind === WARM) continue;
    // A hot window.
    if (state === 0) {
      state = 1;
      firstHot = b;
      firstMulti = -1;
      hotWindows = 0;
      excess = 0;
    }
    lastHot = b;
    hotWindows++;
    excess += judge.frac - judge.beta;
    if (kind === HOT_MULTI && firstMulti < 0) firstMulti = b;
    if (state === 1) {
      if (kind === HOT_MULTI && b - firstMulti >= openAfter) {
        state = 2;
        viaSingle = false;
      } else if (b - firstHot >= singleAfter) {
        state = 2;
        viaSingle = firstMulti < 0;
      }
    }
  }
  if (state === 2) {
    const stale = nowB - lastData > gapBuckets;
    episodes.push(summarise(group, m, config, judge, firstHot, lastHot, !stale, excess / hotWindows, viaSingle));
  }
  return { episodes, from, to: Math.min(b, end) };
}

function summarise(
  group: Group,
  m: number,
  config: DetectorConfig,
  judge: WindowJudge,
  firstHot: number,
  lastHot: number,
  open: boolean,
  excess: number,
  single: boolean,
): Episode {
  const w = judge.w;
  const first = firstHot - w + 1;
  let start = Infinity;
  let end = -Infinity;
  const probes = new Set<number>();
  let blocked = 0;
  let obs = 0;
  let partial = 0;
  let conf = 0;
  const withBlocked: string[] = [];
  for (let b = first; b <= lastHot; b++) {
    const bucket = group.buckets.get(b);
    if (bucket === undefined) continue;
    obs += bucket.obs;
    const cell = bucket.cells[m];
    if (cell === undefined || cell.blocked === 0) continue;
    blocked += cell.blocked;
    partial += cell.partial;
    conf += cell.conf;
    for (const p of cell.probes) probes.add(p);
    withBlocked.push(cell.min_id);
    if (b <= firstHot && cell.min_time < start) start = cell.min_time;
    if (b > lastHot - w && cell.max_time > end) end = cell.max_time;
  }
  if (start === Infinity) start = first * config.bucket_ms;
  if (end === -Infinity || end < start) end = (lastHot + 1) * config.bucket_ms;
  const examples: string[] = [];
  const k = Math.min(config.examples, withBlocked.length);
  for (let i = 0; i < k; i++) examples.push(withBlocked[Math.floor((i * withBlocked.length) / k)]!);
  return {
    first,
    last: lastHot,
    open,
    start,
    end,
    probes: [...probes].sort((x, y) => x - y),
    blocked,
    obs,
    partial,
    conf,
    excess,
    examples,
    single,
  };
}
