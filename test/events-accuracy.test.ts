// The detector against the simulator's ground truth: precision, recall, timing, kinds, order independence.
import { beforeAll, describe, expect, it } from 'vitest';
import { EventDetector } from '../collector/events/detector.js';
import type { Observation } from '../collector/events/observation.js';
import { Prng } from '../collector/events/prng.js';
import { simTruth, simulateObservations, type Truth, type TruthEvent } from '../collector/events/simulate.js';
import type { BlockingEvent } from '../collector/events/types.js';

const DAY = 86_400_000;
const clock = { now: () => 0, monotonic: () => 0 };

let truth: Truth;
let observations: Observation[];
let inOrder: BlockingEvent[];
let detector: EventDetector;
let interval: number;
let endOfData: number;

function run(feed: readonly Observation[], batch = 2000): EventDetector {
  const d = new EventDetector({}, { clock });
  for (let i = 0; i < feed.length; i += batch) d.observe(feed.slice(i, i + batch));
  d.advance(endOfData);
  return d;
}

/** An event without what depends on arrival order (ids, revision numbers, incident ids). */
function content(events: readonly BlockingEvent[]): string[] {
  return events
    .map(({ id: _id, revision: _r, incident: _i, merged_into: _m, ...rest }) => JSON.stringify(rest))
    .sort();
}

const overlapsTruth = (e: BlockingEvent, t: TruthEvent): boolean => e.start <= t.end && (e.end ?? Infinity) >= t.start;

/** The truth event a detected event stands for, if any. */
function matchOf(e: BlockingEvent): TruthEvent | undefined {
  return truth.events.find((t) => {
    if (t.method !== e.method || !overlapsTruth(e, t)) return false;
    if (t.kind === 'shutdown') return e.kind === 'shutdown';
    if (!t.targets.includes(e.targets[0]!)) return false;
    return e.level === 'country' || t.asns.includes(e.asns[0]!);
  });
}

/** Series events the truth requires: every target on every network, and the country series for national blocks. */
function required(): Array<{ series: string; truth: TruthEvent }> {
  const out: Array<{ series: string; truth: TruthEvent }> = [];
  for (const t of truth.events) {
    if (t.kind === 'shutdown') {
      out.push({ series: '*/KZ/shutdown', truth: t });
      continue;
    }
    for (const target of t.targets) {
      for (const asn of t.asns) out.push({ series: `${target}/AS${asn}/${t.method}`, truth: t });
      if (t.national) out.push({ series: `${target}/KZ/${t.method}`, truth: t });
    }
  }
  return out;
}

beforeAll(() => {
  truth = simTruth({});
  interval = truth.options.interval_ms;
  endOfData = truth.options.start + truth.options.days * DAY;
  observations = [...simulateObservations({})];
  detector = run(observations);
  inOrder = detector.events();
}, 120_000);

describe('the detector on a simulated month (20 probes, 5 ASNs, 27 targets)', () => {
  it('the simulation is what the brief asks for', () => {
    expect(observations.length).toBeGreaterThan(600_000);
    expect(new Set(truth.fleet.map((p) => p.asn)).size).toBe(5);
    expect(truth.events.map((t) => t.method)).toEqual(
      expect.arrayContaining(['dns', 'tcp', 'tls', 'interception', 'http', 'throttling', 'shutdown']),
    );
    expect(truth.events.some((t) => t.kind === 'partial')).toBe(true);
  });

  it('event-level precision and recall are at least 0.95', () => {
    const matched = inOrder.filter((e) => matchOf(e) !== undefined);
    const precision = matched.length / inOrder.length;
    const req = required();
    const found = req.filter((r) => inOrder.some((e) => e.series === r.series && overlapsTruth(e, r.truth)));
    const recall = found.length / req.length;
    expect(inOrder.length).toBeGreaterThan(0);
    expect(precision).toBeGreaterThanOrEqual(0.95);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    // Every scripted event is found on at least one series.
    for (const t of truth.events) expect(inOrder.some((e) => matchOf(e) === t), t.id).toBe(true);
  });

  it('start and end are within two probe intervals on the networks blocked and for national blocks', () => {
    for (const r of required()) {
      const e = inOrder.find((x) => x.series === r.series && overlapsTruth(x, r.truth));
      if (e === undefined) continue;
      expect(Math.abs(e.start - r.truth.start), `${r.series} start`).toBeLessThanOrEqual(2 * interval);
      expect(e.end, `${r.series} closed`).not.toBeNull();
      expect(Math.abs(e.end! - r.truth.end), `${r.series} end`).toBeLessThanOrEqual(2 * interval);
    }
  });

  it('gives each event the method, kind and scope of its truth', () => {
    for (const e of inOrder) {
      const t = matchOf(e);
      if (t === undefined) continue;
      expect(e.method, e.id).toBe(t.method);
      expect(e.kind, e.id).toBe(t.kind);
      expect(e.scope, e.id).toBe(t.scope);
    }
    expect(inOrder.some((e) => e.kind === 'partial' && e.targets[0] === 'telegram-dc')).toBe(true);
    expect(inOrder.some((e) => e.kind === 'throttling' && e.method === 'throttling')).toBe(true);
  });

  it('reports the national shutdown as one shutdown event, not per network or per target', () => {
    const shutdown = truth.events.find((t) => t.kind === 'shutdown')!;
    const shutdowns = inOrder.filter((e) => e.kind === 'shutdown');
    expect(shutdowns).toHaveLength(1);
    expect(shutdowns[0]!.level).toBe('country');
    expect(shutdowns[0]!.asns).toEqual([...shutdown.asns].sort((a, b) => a - b));
    expect(Math.abs(shutdowns[0]!.start - shutdown.start)).toBeLessThanOrEqual(2 * interval);
    expect(Math.abs(shutdowns[0]!.end! - shutdown.end)).toBeLessThanOrEqual(2 * interval);
    const during = inOrder.filter((e) => e.kind !== 'shutdown' && overlapsTruth(e, shutdown));
    expect(during).toEqual([]);
  });

  it('reports nothing on the quiet targets, nor for the broken resolver, the offline probe or a target down everywhere', () => {
    expect(truth.quiet_targets.length).toBeGreaterThan(10);
    expect(truth.quiet_targets).toContain('wikipedia');
    for (const e of inOrder) expect(truth.quiet_targets, e.id).not.toContain(e.targets[0]);
    for (const n of truth.noise) {
      const near = inOrder.filter((e) => e.start <= n.end && (e.end ?? Infinity) >= n.start && matchOf(e) === undefined);
      expect(near, n.what).toEqual([]);
    }
  });

  it('reports the chronic block as chronic, with its first-seen date, and not as events', () => {
    const [c] = truth.chronic;
    const series = `${c!.target}/AS${c!.asn}/${c!.method}`;
    const chronic = detector.chronic();
    expect(chronic.map((x) => x.series)).toEqual([series]);
    // First seen by a trusted probe: after min_probe_history hours of the probes' history.
    const history = detector.config.min_probe_history * 3_600_000;
    expect(chronic[0]!.first_seen - c!.since).toBeGreaterThanOrEqual(history - interval);
    expect(chronic[0]!.first_seen - c!.since).toBeLessThanOrEqual(history + interval);
    expect(inOrder.filter((e) => e.series === series)).toEqual([]);
  });

  it('groups the scripted events into one incident each', () => {
    const incidents = detector.incidents();
    expect(incidents).toHaveLength(truth.events.length);
    const national = incidents.find((i) => i.method === 'tls' && i.targets.includes('facebook'))!;
    expect(national.targets).toEqual(['facebook', 'instagram', 'youtube']);
    expect(national.asns).toHaveLength(5);
    expect(national.title).toMatch(/^\d{4}-\d{2}-\d{2}: social, video cut by tls on 5 networks$/);
  });

  it('finds the same events when the data arrives shuffled', () => {
    const shuffled = [...observations];
    const rng = new Prng(42);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const events = run(shuffled, 50_000).events();
    expect(content(events)).toEqual(content(inOrder));
  }, 120_000);

  it("finds the same events when a day's data arrives a day late, with the revisions to show it", () => {
    const shutdown = truth.events.find((t) => t.kind === 'shutdown')!;
    // The day of the national shutdown and of nothing else: hold it back until the next day is in.
    const dayStart = Math.floor(shutdown.start / DAY) * DAY;
    const held = observations.filter((o) => o.time >= dayStart && o.time < dayStart + DAY);
    const rest = observations.filter((o) => !(o.time >= dayStart && o.time < dayStart + DAY));
    const cut = rest.findIndex((o) => o.time >= dayStart + 2 * DAY);
    const feed = [...rest.slice(0, cut), ...held, ...rest.slice(cut)];
    const d = run(feed);
    expect(content(d.events())).toEqual(content(inOrder));
    const opened = d.revisions().filter((r) => r.type === 'opened' && r.event.kind === 'shutdown');
    expect(opened).toHaveLength(1);
  }, 120_000);
});
