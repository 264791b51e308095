// The blocking event detector: counts observations per series and bucket, derives events, keeps revisions.
//
// How it decides (DESIGN.md "Events", "Trust in the fleet"):
// * Every observation of a trusted probe lands in per-bucket counts of its (target, ASN) and
//   (target, country) groups, and of the network's shutdown groups (target "*", blocked = offline).
//   offline and inconclusive are left out of target series; down counts as not blocked.
// * A bucket's share of a method is the mean over probes of each probe's blocked share, so no
//   probe weighs more than another. Shares are scaled integers: sums do not depend on arrival order.
// * A series' baseline is the median of its bucket shares (a 20-bin histogram); at or above
//   chronic_share the series is a chronic block, reported by chronic(), never as events.
// * Windows of one interval are hot (share >= baseline + open_delta, seen by min_probes probes, or by
//   one probe alone that is healthy), cool (share < baseline + close_delta) or in between. An event
//   opens once hot windows span open_after_ms (single_probe_after_ms for one probe) and closes at the
//   first cool window or after max_gap_ms without data. Between the thresholds nothing changes.
// * Events are a pure function of the counts. New data marks buckets dirty; detection re-derives
//   each dirty series from the last cool window before the change to the first cool window after
//   it, matches the new episodes to the old events by overlap (keeping ids) and appends a revision
//   for every event whose material fields changed. Final events do not depend on arrival order.
import type { Category, Clock } from './contract.js';
import { InvalidArgumentError } from './contract.js';
import { Group, TARGET_METHODS, type Level } from './buckets.js';
import { resolveConfig, windowBuckets, type DetectorConfig } from './config.js';
import { anchorBefore, deriveSpan, WindowJudge, type Episode, type ProbeOracle } from './episodes.js';
import { groupIncidents } from './incidents.js';
import { METHODS, methodIndex, type EventMethod, type Observation } from './observation.js';
import { restoreState, saveState, type DetectorState } from './state.js';
import {
  MATERIAL_FIELDS,
  type BlockingEvent,
  type ChronicBlock,
  type EventFilter,
  type Incident,
  type Revision,
  type RevisionType,
} from './types.js';

const HOUR = 3_600_000;

/** What the detector knows of one probe. */
export interface ProbeState {
  id: string;
  index: number;
  /** The min_probe_history smallest distinct hours (epoch hours) it measured in, ascending. */
  hours: number[];
  /** Its measurements count from this time on (ms). */
  trusted_from: number;
  /** Measurements from before trusted_from, kept in case earlier history arrives late. */
  pending: Observation[];
  asns: number[];
  /** Epoch hour -> measurements * 65536 + blocked-or-offline measurements (all targets). */
  health: Map<number, number>;
}

/** One (group, method) series: its baseline as last derived and its events (ids in start order). */
export interface SeriesState {
  key: string;
  group: Group;
  m: number;
  beta: number;
  chronic: boolean;
  events: string[];
}

export interface DetectorDeps {
  clock: Clock;
}

export class EventDetector {
  readonly config: DetectorConfig;
  private readonly clock: Clock;
  /** @internal state, exposed to state.ts. */
  readonly probes = new Map<string, ProbeState>();
  readonly probeList: ProbeState[] = [];
  readonly groups = new Map<string, Group>();
  readonly series = new Map<string, SeriesState>();
  readonly store = new Map<string, BlockingEvent>();
  readonly log: Revision[] = [];
  private incidentList: Incident[] = [];
  private readonly dirty = new Set<Group>();
  /** Series to re-derive in full at the next detection. */
  private readonly full = new Set<string>();
  /** The detector's present (ms) as last given to advance(). */
  now = -Infinity;
  /** @internal the latest bucket with data (any group). */
  dataEnd = -Infinity;
  /** Buckets before this one are compacted, health hours before prunedBefore dropped (restarts from the state's own after a restore). */
  private compactedBefore = -Infinity;
  private prunedBefore = -Infinity;
  private readonly w: number;
  private readonly oracle: ProbeOracle;

  constructor(options: Partial<DetectorConfig>, deps: DetectorDeps) {
    this.config = resolveConfig(options);
    this.clock = deps.clock;
    this.w = windowBuckets(this.config);
    this.oracle = {
      healthy: (probe, from, to) => this.healthy(probe, from, to),
      asnCount: (probes) => {
        const set = new Set<number>();
        for (const p of probes) for (const asn of this.probeList[p]!.asns) set.add(asn);
        return set.size;
      },
    };
  }

  /** A detector from a saved state (see state.ts); the config comes from the state. */
  static restore(state: DetectorState, deps: DetectorDeps): EventDetector {
    return restoreState(state, (config) => new EventDetector(config, deps));
  }

  /** The detector's state as plain JSON data. */
  save(): DetectorState {
    return saveState(this);
  }

  /** Count observations (placed by their own time, in any order) and return the revisions they caused. */
  observe(input: Observation | readonly Observation[]): Revision[] {
    this.count(input);
    return this.detectNow();
  }

  /**
   * Count observations without deriving events yet (a live collector counts every batch and
   * derives the events of all the batches counted since at most once a second): `detectNow()`
   * afterwards gives the same revisions as `observe()` of the same observations would have.
   */
  count(input: Observation | readonly Observation[]): void {
    if (Array.isArray(input)) for (const obs of input as readonly Observation[]) this.ingest(obs);
    else this.ingest(input as Observation);
  }

  /** Whether observations were counted since the events were last derived. */
  get pending(): boolean {
    return this.dirty.size > 0 || this.full.size > 0;
  }

  /** Derive the events of what was counted since the last time; returns the revisions caused. */
  detectNow(): Revision[] {
    const revisions = this.detect();
    this.compact();
    return revisions;
  }

  /**
   * Tell the detector the time is `now`: open events whose series has had no data for max_gap_ms
   * close, and buckets older than now - horizon_ms are compacted. Returns the revisions caused.
   */
  advance(now: number): Revision[] {
    if (!Number.isFinite(now)) throw new InvalidArgumentError(`advance: now must be a finite epoch ms, got ${now}`);
    if (now > this.now) {
      this.now = now;
      for (const s of this.series.values()) {
        const last = s.events.at(-1);
        if (last !== undefined && this.store.get(last)?.end === null) this.markTail(s.group);
      }
    }
    const revisions = this.detect();
    this.compact();
    return revisions;
  }

  /**
   * The first bucket inside the horizon: buckets before it keep no per-probe detail. The horizon
   * counts back from the present (the latest advance) or, when earlier, from the end of the
   * latest bucket with data: an import of history moves it with the data (the present is long past
   * all of it), so that only the last horizon_ms of the data hold detail however much is imported,
   * and the same data give the same counts whenever advance is called.
   */
  horizonStart(): number {
    if (!Number.isFinite(this.config.horizon_ms) || this.dataEnd === -Infinity) return -Infinity;
    const present = Math.min(this.now, (this.dataEnd + 1) * this.config.bucket_ms);
    return Math.floor((present - this.config.horizon_ms) / this.config.bucket_ms);
  }

  /** Drop the per-probe detail (and the probes' health hours) that fell out of the horizon since the last time. */
  private compact(): void {
    const cut = this.horizonStart();
    if (cut <= this.compactedBefore) return;
    for (const group of this.groups.values()) group.compact(cut, this.compactedBefore);
    const hourCut = Math.floor((cut * this.config.bucket_ms) / HOUR);
    if (hourCut > this.prunedBefore) {
      for (const probe of this.probeList) {
        const health = probe.health;
        if (Number.isFinite(this.prunedBefore) && hourCut - this.prunedBefore < health.size) {
          for (let hour = this.prunedBefore; hour < hourCut; hour++) health.delete(hour);
        } else for (const hour of health.keys()) if (hour < hourCut) health.delete(hour);
      }
      this.prunedBefore = hourCut;
    }
    this.compactedBefore = cut;
  }

  /** Events (not retracted unless asked), in start order. */
  events(filter: EventFilter = {}): BlockingEvent[] {
    const out: BlockingEvent[] = [];
    for (const e of this.store.values()) {
      if (e.status === 'retracted' && filter.include_retracted !== true) continue;
      if (filter.target !== undefined && !e.targets.includes(filter.target)) continue;
      if (filter.asn !== undefined && !e.asns.includes(filter.asn)) continue;
      if (filter.cc !== undefined && e.cc !== filter.cc) continue;
      if (filter.method !== undefined && e.method !== filter.method) continue;
      if (filter.kind !== undefined && e.kind !== filter.kind) continue;
      if (filter.level !== undefined && e.level !== filter.level) continue;
      if (filter.from !== undefined && e.end !== null && e.end < filter.from) continue;
      if (filter.to !== undefined && e.start > filter.to) continue;
      out.push(structuredClone(e));
    }
    return out.sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1));
  }

  incidents(): Incident[] {
    return structuredClone(this.incidentList);
  }

  /** The append-only revision history, oldest first (optionally from sequence number `since` on). */
  revisions(since = 0): Revision[] {
    return structuredClone(since <= 0 ? this.log : this.log.filter((r) => r.seq > since));
  }

  /** Series blocked most of the time: one record each, with the first blocked measurement seen. */
  chronic(): ChronicBlock[] {
    const out: ChronicBlock[] = [];
    for (const s of this.series.values()) {
      if (!s.chronic) continue;
      let first = Infinity;
      let last = -Infinity;
      for (const bucket of s.group.buckets.values()) {
        const cell = bucket.cells[s.m];
        if (cell === undefined || cell.blocked === 0) continue;
        if (cell.min_time < first) first = cell.min_time;
        if (cell.max_time > last) last = cell.max_time;
      }
      out.push({
        series: s.key,
        target: s.group.target,
        level: s.group.level,
        asn: s.group.asn,
        cc: s.group.level === 'country' ? s.group.cc : minOf(s.group.ccs),
        method: this.methodName(s.group, s.m),
        first_seen: first,
        last_seen: last,
        baseline: s.beta,
      });
    }
    return out.sort((a, b) => (a.series < b.series ? -1 : 1));
  }

  // ── counting ────────────────────────────────────────────────────────────────

  private ingest(obs: Observation): void {
    if (typeof obs !== 'object' || obs === null) throw new InvalidArgumentError('observe: an observation must be an object');
    if (typeof obs.probe_id !== 'string' || obs.probe_id === '') throw new InvalidArgumentError(`observe ${obs.id}: probe_id is missing`);
    if (typeof obs.target !== 'string' || obs.target === '' || obs.target === '*') {
      throw new InvalidArgumentError(`observe ${obs.id}: bad target ${JSON.stringify(obs.target)}`);
    }
    if (!Number.isFinite(obs.time)) throw new InvalidArgumentError(`observe ${obs.id}: time must be a finite epoch ms`);
    const probe = this.probe(obs.probe_id);
    const hour = Math.floor(obs.time / HOUR);
    const bad = obs.verdict === 'offline' || methodIndex(obs.verdict) >= 0 ? 1 : 0;
    probe.health.set(hour, (probe.health.get(hour) ?? 0) + 65536 + bad);
    if (obs.asn !== null && !probe.asns.includes(obs.asn)) {
      probe.asns.push(obs.asn);
      probe.asns.sort((a, b) => a - b);
    }
    const before = probe.trusted_from;
    this.learnHour(probe, hour);
    if (obs.time >= probe.trusted_from) this.countOne(probe, obs);
    else probe.pending.push(obs);
    if (probe.trusted_from < before && probe.pending.length > 0) {
      const still: Observation[] = [];
      for (const p of probe.pending) {
        if (p.time >= probe.trusted_from) this.countOne(probe, p);
        else still.push(p);
      }
      probe.pending = still;
    }
  }

  private probe(id: string): ProbeState {
    let probe = this.probes.get(id);
    if (probe === undefined) {
      const k = this.config.min_probe_history;
      probe = { id, index: this.probeList.length, hours: [], trusted_from: k === 0 ? -Infinity : Infinity, pending: [], asns: [], health: new Map() };
      this.probes.set(id, probe);
      this.probeList.push(probe);
    }
    return probe;
  }

  /** Keep the K smallest distinct hours; trusted from the end of the Kth. */
  private learnHour(probe: ProbeState, hour: number): void {
    const k = this.config.min_probe_history;
    if (k === 0) return;
    const hours = probe.hours;
    if (hours.length === k && hour >= hours[k - 1]!) return;
    let i = hours.length;
    while (i > 0 && hours[i - 1]! > hour) i--;
    if (hours[i - 1] === hour) return;
    hours.splice(i, 0, hour);
    if (hours.length > k) hours.pop();
    if (hours.length === k) probe.trusted_from = (hours[k - 1]! + 1) * HOUR;
  }

  private countOne(probe: ProbeState, obs: Observation): void {
    const b = Math.floor(obs.time / this.config.bucket_ms);
    if (b > this.dataEnd) this.dataEnd = b;
    // Outside the horizon a bucket keeps no per-probe detail (a late measurement counts as a probe of its own).
    const detail = b >= this.compactedBefore;
    const offline = obs.verdict === 'offline';
    const partial = obs.scope === 'partial';
    const conf = Number.isFinite(obs.confidence) ? Math.min(1, Math.max(0, obs.confidence)) : 0;
    // The country group mirrors the ASN group (no per-probe detail of its own) when the ASN is known.
    const cc = (target: string): Group | null => (obs.cc === null ? null : this.group(target, 'country', null, obs.cc, obs.category));
    const add = (target: string, m: number, part: boolean): void => {
      const country = cc(target);
      if (obs.asn !== null) this.group(target, 'asn', obs.asn, obs.cc, obs.category).add(b, probe.index, m, part, conf, obs.time, obs.id, country, detail);
      else if (country !== null) country.add(b, probe.index, m, part, conf, obs.time, obs.id, null, detail);
    };
    add('*', offline ? 0 : -1, false);
    if (offline || obs.verdict === 'inconclusive') return;
    add(obs.target, methodIndex(obs.verdict), partial);
  }

  /** @internal the group of a (target, network), created on first use. */
  group(target: string, level: Level, asn: number | null, cc: string | null, category: Category | null): Group {
    const key = `${target}/${level === 'asn' ? `AS${asn}` : cc}`;
    let group = this.groups.get(key);
    if (group === undefined) {
      group = new Group(key, target, level, asn, level === 'country' ? cc : null, target === '*' ? 1 : TARGET_METHODS);
      this.groups.set(key, group);
    }
    if (cc !== null && level === 'asn' && !group.ccs.has(cc)) group.ccs.add(cc);
    if (category !== null && target !== '*' && !group.categories.has(category)) group.categories.add(category);
    this.dirty.add(group);
    return group;
  }

  private markTail(group: Group): void {
    if (group.maxB === -Infinity) return;
    if (group.dirtyLo === null || group.maxB < group.dirtyLo) group.dirtyLo = group.maxB;
    if (group.dirtyHi === null || group.maxB > group.dirtyHi) group.dirtyHi = group.maxB;
    this.dirty.add(group);
  }

  private healthy(probe: number, from: number, to: number): boolean {
    const health = this.probeList[probe]!.health;
    let total = 0;
    let bad = 0;
    for (let h = Math.floor(from / HOUR); h <= Math.floor((to - 1) / HOUR); h++) {
      const v = health.get(h);
      if (v === undefined) continue;
      total += Math.floor(v / 65536);
      bad += v % 65536;
    }
    return total > 0 && bad <= this.config.single_probe_health * total;
  }

  private methodName(group: Group, m: number): EventMethod {
    return group.shutdown ? 'shutdown' : METHODS[m]!;
  }

  // ── detection ───────────────────────────────────────────────────────────────

  private detect(): Revision[] {
    if (this.dirty.size === 0 && this.full.size === 0) return [];
    const drafts = new Map<string, BlockingEvent>();
    const groups = new Set(this.dirty);
    for (const s of this.series.values()) if (this.full.has(s.key)) groups.add(s.group);
    // National shutdown series first, the target series, then the ASN shutdown series: they defer to the national ones.
    const order = [...groups].sort((a, b) => rank(a) - rank(b) || (a.key < b.key ? -1 : 1));
    let nationalChanged = false;
    for (const group of order) {
      if (rank(group) === 2) break;
      for (let m = 0; m < group.methods; m++) {
        if (this.deriveSeries(group, m, drafts) && group.shutdown) nationalChanged = true;
      }
      group.dirtyLo = null;
      group.dirtyHi = null;
    }
    for (const group of nationalChanged ? this.groups.values() : order) {
      if (rank(group) !== 2) continue;
      if (nationalChanged) this.full.add(this.seriesKey(group, 0));
      this.deriveSeries(group, 0, drafts);
      group.dirtyLo = null;
      group.dirtyHi = null;
    }
    this.dirty.clear();
    this.full.clear();
    if (drafts.size === 0) return [];
    return this.publish(drafts);
  }

  private seriesKey(group: Group, m: number): string {
    return `${group.key}/${this.methodName(group, m)}`;
  }

  /** Re-derive one series over its dirty span; drafts get the events that were (re)built. Returns whether any changed. */
  private deriveSeries(group: Group, m: number, drafts: Map<string, BlockingEvent>): boolean {
    const key = this.seriesKey(group, m);
    let s = this.series.get(key);
    if (group.active[m] === 0 && (s === undefined || s.events.length === 0)) return false;
    if (s === undefined) {
      s = { key, group, m, beta: 0, chronic: false, events: [] };
      this.series.set(key, s);
    }
    const beta = group.baseline(m);
    const chronic = beta >= this.config.chronic_share - 1e-9;
    const full = this.full.has(key) || beta !== s.beta || chronic !== s.chronic || group.dirtyLo === null;
    s.beta = beta;
    s.chronic = chronic;
    const nowB = Math.floor(this.now / this.config.bucket_ms);
    let episodes: Episode[] = [];
    let from = -Infinity;
    let to = Infinity;
    if (!chronic && group.minB !== Infinity) {
      const judge = new WindowJudge(group, m, beta, this.config, this.oracle, group.shutdown && group.level === 'country');
      const lo = full ? group.minB : group.dirtyLo!;
      const hi = full ? group.maxB : group.dirtyHi!;
      const start = full ? group.minB : anchorBefore(judge, group, lo);
      const span = deriveSpan(judge, group, m, this.config, start, hi + this.w, nowB);
      episodes = span.episodes;
      if (!full) {
        from = span.from;
        to = span.to;
      }
      if (group.shutdown && group.level === 'asn') episodes = episodes.filter((e) => !this.underNational(group, e, drafts));
    }
    // The old events whose first hot window lies in the re-derived span.
    const old: BlockingEvent[] = [];
    const keep: string[] = [];
    for (const id of s.events) {
      const e = drafts.get(id) ?? this.store.get(id)!;
        const firstHot = this.spans.get(id)![0];
      if (firstHot >= from && firstHot <= to) old.push(e);
      else keep.push(id);
    }
    if (old.length === 0 && episodes.length === 0) return false;
    const used = new Set<string>();
    const next: BlockingEvent[] = [];
    for (const ep of episodes) {
      const match = old.find((e) => !used.has(e.id) && overlaps(e, ep, this.config.bucket_ms));
      const id = match?.id ?? this.newId(key, ep.start);
      used.add(id);
      this.spans.set(id, [ep.first + this.w - 1, ep.last]);
      const event = this.toEvent(s, ep, id, match);
      next.push(event);
      drafts.set(id, event);
    }
    for (const e of old) {
      if (used.has(e.id)) continue;
      const into = next.find((n) => overlaps(e, { start: n.start, end: n.end ?? Infinity }, this.config.bucket_ms));
      const retracted: BlockingEvent = { ...e, status: 'retracted', incident: null };
      if (into !== undefined) retracted.merged_into = into.id;
      drafts.set(e.id, retracted);
    }
    s.events = [...keep, ...next.map((e) => e.id)].sort((a, b) => this.startOf(a, drafts) - this.startOf(b, drafts));
    return true;
  }

  private startOf(id: string, drafts: Map<string, BlockingEvent>): number {
    return (drafts.get(id) ?? this.store.get(id)!).start;
  }

  private underNational(group: Group, ep: Episode, drafts: Map<string, BlockingEvent>): boolean {
    for (const cc of group.ccs) {
      const s = this.series.get(`*/${cc}/shutdown`);
      if (s === undefined) continue;
      for (const id of s.events) {
        const e = drafts.get(id) ?? this.store.get(id);
        if (e === undefined || e.status === 'retracted') continue;
        if (ep.start <= (e.end ?? Infinity) && e.start <= (ep.open ? Infinity : ep.end)) return true;
      }
    }
    return false;
  }

  private newId(series: string, start: number): string {
    const stamp = new Date(start).toISOString().slice(0, 16).replace(/[-:]/g, '');
    let id = `${series}@${stamp}Z`;
    for (let n = 2; this.store.has(id) || this.taken.has(id); n++) id = `${series}@${stamp}Z.${n}`;
    this.taken.add(id);
    return id;
  }

  /** @internal event id -> [first, last] hot window of its series (which span it was derived from). */
  readonly spans = new Map<string, [number, number]>();
  /** Ids handed out in the current detection (not yet in the store). */
  private readonly taken = new Set<string>();

  private toEvent(s: SeriesState, ep: Episode, id: string, previous: BlockingEvent | undefined): BlockingEvent {
    const group = s.group;
    const method = this.methodName(group, s.m);
    const partial = 2 * ep.partial > ep.blocked;
    const kind = group.shutdown ? 'shutdown' : method === 'throttling' ? 'throttling' : partial ? 'partial' : 'blocking';
    const asns =
      group.level === 'asn'
        ? [group.asn!]
        : [...new Set(ep.probes.flatMap((p) => this.probeList[p]!.asns))].sort((a, b) => a - b);
    const meanConf = ep.blocked === 0 ? 0 : ep.conf / ep.blocked / 1000;
    const probes = Math.max(1, ep.probes.length);
    return {
      id,
      series: s.key,
      kind,
      status: ep.open ? 'open' : 'closed',
      start: ep.start,
      end: ep.open ? null : ep.end,
      level: group.level,
      targets: [group.target],
      categories: [...group.categories].sort() as Category[],
      asns,
      cc: group.level === 'country' ? group.cc : minOf(group.ccs),
      method,
      scope: partial ? 'partial' : 'full',
      probe_count: ep.probes.length,
      measurement_count: ep.obs,
      blocked_count: ep.blocked,
      confidence: Math.round(meanConf * (1 - 0.5 ** probes) * 1000) / 1000,
      incident: previous?.incident ?? null,
      revision: previous?.revision ?? 0,
      evidence: ep.examples,
      single_probe: ep.single,
    };
  }

  /** Group incidents, diff the drafts against the published events, append the revisions. */
  private publish(drafts: Map<string, BlockingEvent>): Revision[] {
    this.taken.clear();
    const all = new Map(this.store);
    for (const [id, e] of drafts) all.set(id, e);
    const incidents = groupIncidents([...all.values()], this.config.interval_ms);
    const incidentOf = new Map<string, string>();
    for (const inc of incidents) for (const id of inc.event_ids) incidentOf.set(id, inc.id);
    this.incidentList = incidents.sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1));
    const at = this.clock.now();
    const revisions: Revision[] = [];
    for (const [id, candidate] of all) {
      const incident = incidentOf.get(id) ?? null;
      if (!drafts.has(id) && candidate.incident === incident) continue;
      const next: BlockingEvent = { ...candidate, incident };
      const prev = this.store.get(id);
      const changes: Revision['changes'] = {};
      let changed = false;
      for (const field of MATERIAL_FIELDS) {
        const a = prev === undefined ? null : (prev[field] ?? null);
        const b = next[field] ?? null;
        if (prev === undefined ? b !== null : !same(a, b)) {
          changes[field] = { from: a, to: b };
          changed = true;
        }
      }
      if (prev !== undefined && !changed) {
        this.store.set(id, { ...next, revision: prev.revision });
        continue;
      }
      if (prev === undefined && next.status === 'retracted') continue;
      const type: RevisionType =
        prev === undefined
          ? 'opened'
          : next.status === 'retracted'
            ? 'retracted'
            : prev.status === 'closed' && next.status === 'open'
              ? 'reopened'
              : prev.status === 'open' && next.status === 'closed'
                ? 'closed'
                : 'changed';
      next.revision = (prev?.revision ?? 0) + 1;
      this.store.set(id, next);
      const revision: Revision = { seq: this.log.length + 1, event_id: id, revision: next.revision, type, at, changes, event: structuredClone(next) };
      this.log.push(revision);
      revisions.push(revision);
    }
    return structuredClone(revisions);
  }

  /** @internal after a restore: rebuild derived indexes. */
  rebuild(): void {
    for (const group of this.groups.values()) {
      group.reindex();
      if (group.maxB > this.dataEnd) this.dataEnd = group.maxB;
    }
    this.compact();
    this.incidentList = groupIncidents([...this.store.values()], this.config.interval_ms).sort(
      (a, b) => a.start - b.start || (a.id < b.id ? -1 : 1),
    );
  }
}

function rank(group: Group): number {
  return group.shutdown ? (group.level === 'country' ? 0 : 2) : 1;
}

function overlaps(e: { start: number; end: number | null }, ep: { start: number; end: number; open?: boolean }, slack: number): boolean {
  const eEnd = e.end ?? Infinity;
  const epEnd = ep.open === true ? Infinity : ep.end;
  return e.start <= epEnd + slack && ep.start <= eEnd + slack;
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

function minOf(set: ReadonlySet<string>): string | null {
  let min: string | null = null;
  for (const v of set) if (min === null || v < min) min = v;
  return min;
}
