// The detector's state as JSON data (for the collector to persist) and its restoration.
import { Group, type Bucket, type MethodCell, type ProbeCell } from './buckets.js';
import type { DetectorConfig } from './config.js';
import type { EventDetector, ProbeState } from './detector.js';
import { DetectorStateError } from './errors.js';
import type { Observation } from './observation.js';
import type { BlockingEvent, Revision } from './types.js';

export const STATE_FORMAT = 'ashyq-event-detector';
export const STATE_VERSION = 1;

/** [share, blocked, partial, conf, probes, min_time, max_time, min_id] */
type CellJson = [number, number, number, number, number[], number, number, string];
/** [bucket, np, obs, cells (null = none for that method), per-probe detail (null = compacted)] */
type BucketJson = [number, number, number, Array<CellJson | null>, Array<[number, ProbeCell]> | null];

export interface DetectorState {
  format: typeof STATE_FORMAT;
  version: typeof STATE_VERSION;
  /** horizon_ms Infinity is written as null. */
  config: Omit<DetectorConfig, 'horizon_ms'> & { horizon_ms: number | null };
  now: number | null;
  /** In index order (bucket detail refers to probes by index). */
  probes: Array<{ id: string; hours: number[]; pending: Observation[]; asns: number[]; health: Array<[number, number]> }>;
  groups: Array<{
    key: string;
    target: string;
    level: 'asn' | 'country';
    asn: number | null;
    cc: string | null;
    ccs: string[];
    categories: string[];
    buckets: BucketJson[];
  }>;
  series: Array<{ key: string; group: string; m: number; beta: number; chronic: boolean; events: string[] }>;
  events: Array<BlockingEvent & { hot: [number, number] }>;
  revisions: Revision[];
}

export function saveState(d: EventDetector): DetectorState {
  const { horizon_ms, ...rest } = d.config;
  return {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    config: { ...rest, horizon_ms: Number.isFinite(horizon_ms) ? horizon_ms : null },
    now: Number.isFinite(d.now) ? d.now : null,
    probes: d.probeList.map((p) => ({ id: p.id, hours: [...p.hours], pending: structuredClone(p.pending), asns: [...p.asns], health: [...p.health] })),
    groups: [...d.groups.values()].map((g) => ({
      key: g.key,
      target: g.target,
      level: g.level,
      asn: g.asn,
      cc: g.cc,
      ccs: [...g.ccs].sort(),
      categories: [...g.categories].sort(),
      buckets: [...g.buckets].map(([b, bucket]) => saveBucket(b, bucket)),
    })),
    series: [...d.series.values()].map((s) => ({ key: s.key, group: s.group.key, m: s.m, beta: s.beta, chronic: s.chronic, events: [...s.events] })),
    events: [...d.store.values()].map((e) => ({ ...structuredClone(e), hot: d.spans.get(e.id) ?? [0, 0] })),
    revisions: structuredClone(d.log),
  };
}

function saveBucket(b: number, bucket: Bucket): BucketJson {
  return [
    b,
    bucket.np,
    bucket.obs,
    bucket.cells.map((c) => (c === undefined ? null : [c.share, c.blocked, c.partial, c.conf, [...c.probes], c.min_time, c.max_time, c.min_id])),
    bucket.probes === null ? null : [...bucket.probes].map(([p, cell]) => [p, typeof cell === 'number' ? cell : structuredClone(cell)]),
  ];
}

export function restoreState(state: DetectorState, make: (config: Partial<DetectorConfig>) => EventDetector): EventDetector {
  if (typeof state !== 'object' || state === null || state.format !== STATE_FORMAT) throw new DetectorStateError(`not a ${STATE_FORMAT} state`);
  if (state.version !== STATE_VERSION) throw new DetectorStateError(`version ${String(state.version)} is not ${STATE_VERSION}`);
  const { horizon_ms, ...rest } = state.config;
  const d = make({ ...rest, horizon_ms: horizon_ms ?? Infinity });
  d.now = state.now ?? -Infinity;
  for (const [index, p] of state.probes.entries()) {
    const k = d.config.min_probe_history;
    const probe: ProbeState = {
      id: p.id,
      index,
      hours: [...p.hours],
      trusted_from: k === 0 ? -Infinity : p.hours.length === k ? (p.hours[k - 1]! + 1) * 3_600_000 : Infinity,
      pending: p.pending,
      asns: [...p.asns],
      health: new Map(p.health),
    };
    d.probes.set(p.id, probe);
    d.probeList.push(probe);
  }
  for (const g of state.groups) {
    const group = new Group(g.key, g.target, g.level, g.asn, g.cc, g.target === '*' ? 1 : 6);
    for (const cc of g.ccs) group.ccs.add(cc);
    for (const c of g.categories) group.categories.add(c);
    for (const [b, np, obs, cells, probes] of g.buckets) {
      group.buckets.set(b, {
        np,
        obs,
        cells: cells.map((c): MethodCell | undefined =>
          c === null
            ? undefined
            : { share: c[0], blocked: c[1], partial: c[2], conf: c[3], probes: [...c[4]], min_time: num(c[5]), max_time: num(c[6]), min_id: c[7] },
        ),
        probes: probes === null ? null : new Map(probes),
      });
      if (b < group.minB) group.minB = b;
      if (b > group.maxB) group.maxB = b;
    }
    d.groups.set(g.key, group);
  }
  for (const s of state.series) {
    const group = d.groups.get(s.group);
    if (group === undefined) throw new DetectorStateError(`series ${s.key} names a missing group ${s.group}`);
    d.series.set(s.key, { key: s.key, group, m: s.m, beta: s.beta, chronic: s.chronic, events: [...s.events] });
  }
  for (const { hot, ...e } of state.events) {
    d.store.set(e.id, e);
    d.spans.set(e.id, hot);
  }
  d.log.push(...state.revisions);
  d.rebuild();
  return d;
}

/** JSON writes +-Infinity as null. */
function num(value: number | null): number {
  return value === null ? Infinity : value;
}
