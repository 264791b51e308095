// Unit tests of the event detector: hysteresis, probe rules, shutdowns, revisions, incidents, state.
import { describe, expect, it } from 'vitest';
import { DetectorConfigError } from '../collector/events/errors.js';
import { resolveConfig } from '../collector/events/config.js';
import { EventDetector } from '../collector/events/detector.js';
import { observationFromRecord, type Observation } from '../collector/events/observation.js';
import { Prng } from '../collector/events/prng.js';
import { simulateRecords } from '../collector/events/simulate.js';
import type { Verdict } from '../collector/events/contract.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2024, 4, 9);
const clock = { t: T0, now() { return this.t; }, monotonic() { return this.t; } };

interface Probe {
  id: string;
  asn: number;
}

function probes(asn: number, n: number, prefix = `p${asn}`): Probe[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, asn }));
}

let seq = 0;
/**
 * Every probe measures `targets` every 30 minutes (probe i offset by i minutes) from `from` to `to`;
 * `verdict` says what each measurement shows.
 */
function fleetRun(
  fleet: readonly Probe[],
  from: number,
  to: number,
  verdict: (p: Probe, target: string, t: number) => Verdict,
  targets: readonly string[] = ['facebook', 'vk', 'egov-kz'],
): Observation[] {
  const out: Observation[] = [];
  for (let slot = from; slot < to; slot += 30 * MIN) {
    for (const [i, p] of fleet.entries()) {
      for (const [k, target] of targets.entries()) {
        const time = slot + Math.floor((i * 30 * MIN) / fleet.length) + k * 1000;
        if (time >= to) continue;
        const v = verdict(p, target, time);
        out.push({
          id: `${String(time).padStart(14, '0')}-${String(seq++).padStart(8, '0')}`,
          probe_id: p.id,
          target,
          category: target === 'egov-kz' ? 'canary' : 'social',
          asn: p.asn,
          cc: 'KZ',
          time,
          verdict: v,
          layer: null,
          confidence: 0.9,
        });
      }
    }
  }
  return out;
}

const detector = (options = {}): EventDetector => new EventDetector({ min_probe_history: 0, ...options }, { clock });
const within = (t: number, a: number, b: number): boolean => t >= a && t < b;

describe('EventDetector', () => {
  it('opens one event for a block seen by several probes, and closes it when the share returns', () => {
    const d = detector();
    const fleet = probes(9198, 4);
    const start = T0 + 10 * HOUR;
    const end = T0 + 14 * HOUR;
    d.observe(fleetRun(fleet, T0, T0 + 24 * HOUR, (_p, t, time) => (t === 'facebook' && within(time, start, end) ? 'tls.reset' : 'ok')));
    const events = d.events({ level: 'asn' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ series: 'facebook/AS9198/tls', kind: 'blocking', method: 'tls', scope: 'full', probe_count: 4, status: 'closed' });
    expect(Math.abs(events[0]!.start - start)).toBeLessThanOrEqual(HOUR);
    expect(Math.abs(events[0]!.end! - end)).toBeLessThanOrEqual(HOUR);
    expect(events[0]!.evidence.length).toBeGreaterThan(0);
    expect(events[0]!.evidence.length).toBeLessThanOrEqual(5);
  });

  it('keeps a flapping series as one event (hysteresis), where no hysteresis would split it', () => {
    // Intermittent blocking: each measurement of the 12 hours is blocked with probability 0.65.
    const fleet = probes(9198, 8);
    const start = T0 + 6 * HOUR;
    const end = T0 + 18 * HOUR;
    const rng = new Prng(7);
    const data = fleetRun(fleet, T0, T0 + 24 * HOUR, (_p, t, time) =>
      t === 'facebook' && within(time, start, end) && rng.next() < 0.65 ? 'tls.reset' : 'ok',
    );
    const d = detector();
    d.observe(data);
    expect(d.events({ level: 'asn', target: 'facebook' })).toHaveLength(1);
    const noHysteresis = detector({ close_delta: 0.5 });
    noHysteresis.observe(data);
    expect(noHysteresis.events({ level: 'asn', target: 'facebook' }).length).toBeGreaterThan(1);
  });

  it('needs min_probes distinct probes', () => {
    const fleet = probes(9198, 2);
    const data = fleetRun(fleet, T0, T0 + 12 * HOUR, (_p, t, time) => (t === 'vk' && within(time, T0 + 4 * HOUR, T0 + 5 * HOUR) ? 'dns.nxdomain' : 'ok'));
    const two = detector();
    two.observe(data);
    expect(two.events({ level: 'asn' }).map((e) => e.series)).toEqual(['vk/AS9198/dns']);
    const three = detector({ min_probes: 3 });
    three.observe(data);
    expect(three.events()).toEqual([]);
  });

  it('does not let one probe among others that disagree make an event', () => {
    const fleet = probes(9198, 4);
    const d = detector();
    d.observe(fleetRun(fleet, T0, T0 + 24 * HOUR, (p, t) => (t === 'vk' && p.id === fleet[0]!.id ? 'dns.nxdomain' : 'ok')));
    expect(d.events()).toEqual([]);
  });

  it('weighs each probe once: one probe sending twenty blocked measurements a minute does not outweigh three that see none', () => {
    const fleet = probes(9198, 3);
    const flooder = { id: 'p9198-flood', asn: 9198 };
    const data = fleetRun(fleet, T0, T0 + 24 * HOUR, () => 'ok');
    const flood = fleetRun([flooder], T0, T0 + 24 * HOUR, () => 'ok');
    for (let time = T0 + 6 * HOUR; time < T0 + 18 * HOUR; time += 3000) {
      flood.push({ ...flood[0]!, id: `flood-${time}`, target: 'vk', time, verdict: 'dns.nxdomain', layer: 'dns' });
    }
    const d = detector();
    d.observe([...data, ...flood].sort((a, b) => a.time - b.time));
    expect(flood.length).toBeGreaterThan(10 * data.length);
    expect(d.events()).toEqual([]);
    // The same blocking from two of the four probes, one measurement each per interval, is an event.
    const honest = detector();
    const second = { id: 'p9198-second', asn: 9198 };
    honest.observe(fleetRun([...fleet, second], T0, T0 + 24 * HOUR, (p, t, time) => (t === 'vk' && (p.id === second.id || p.id === fleet[0]!.id) && within(time, T0 + 6 * HOUR, T0 + 18 * HOUR) ? 'dns.nxdomain' : 'ok')));
    expect(honest.events({ level: 'asn' }).map((e) => e.series)).toEqual(['vk/AS9198/dns']);
  });

  it('takes one probe alone only when it persists and its other targets are fine', () => {
    const alone = probes(35104, 1);
    const short = detector();
    short.observe(fleetRun(alone, T0, T0 + 12 * HOUR, (_p, t, time) => (t === 'vk' && within(time, T0 + 4 * HOUR, T0 + 5 * HOUR) ? 'dns.nxdomain' : 'ok')));
    expect(short.events()).toEqual([]);

    const persistent = detector();
    persistent.observe(fleetRun(alone, T0, T0 + 12 * HOUR, (_p, t, time) => (t === 'vk' && within(time, T0 + 4 * HOUR, T0 + 9 * HOUR) ? 'dns.nxdomain' : 'ok')));
    const events = persistent.events({ level: 'asn' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ series: 'vk/AS35104/dns', single_probe: true, probe_count: 1 });

    const broken = detector();
    broken.observe(fleetRun(alone, T0, T0 + 12 * HOUR, (_p, _t, time) => (within(time, T0 + 4 * HOUR, T0 + 9 * HOUR) ? 'dns.timeout' : 'ok')));
    expect(broken.events()).toEqual([]);
  });

  it('reports nothing for one probe whose canaries fail', () => {
    const fleet = [...probes(9198, 3), ...probes(21299, 3)];
    const d = detector();
    d.observe(fleetRun(fleet, T0, T0 + 24 * HOUR, (p, _t, time) => (p.id === fleet[0]!.id && within(time, T0 + 2 * HOUR, T0 + 10 * HOUR) ? 'offline' : 'ok')));
    expect(d.events({ include_retracted: true })).toEqual([]);
  });

  it('reports probes of one ASN going dark as one ASN shutdown, and of many ASNs as one national shutdown', () => {
    const fleet = [...probes(9198, 3), ...probes(21299, 3), ...probes(48503, 2)];
    const one = detector();
    one.observe(fleetRun(fleet, T0, T0 + 24 * HOUR, (p, _t, time) => (p.asn === 9198 && within(time, T0 + 2 * HOUR, T0 + 6 * HOUR) ? 'offline' : 'ok')));
    expect(one.events().map((e) => [e.kind, e.series])).toEqual([['shutdown', '*/AS9198/shutdown']]);

    const all = detector();
    all.observe(fleetRun(fleet, T0, T0 + 24 * HOUR, (_p, _t, time) => (within(time, T0 + 2 * HOUR, T0 + 6 * HOUR) ? 'offline' : 'ok')));
    const events = all.events();
    expect(events.map((e) => [e.kind, e.series])).toEqual([['shutdown', '*/KZ/shutdown']]);
    expect(events[0]!.asns).toEqual([9198, 21299, 48503]);
  });

  it('revises append-only when late data moves a start earlier', () => {
    const fleet = probes(9198, 4);
    const start = T0 + 10 * HOUR;
    const verdict = (_p: Probe, t: string, time: number): Verdict => (t === 'facebook' && within(time, start, T0 + 16 * HOUR) ? 'tls.reset' : 'ok');
    const data = fleetRun(fleet, T0, T0 + 20 * HOUR, verdict);
    const late = data.filter((o) => within(o.time, start, start + 2 * HOUR));
    const onTime = data.filter((o) => !within(o.time, start, start + 2 * HOUR));
    const d = detector();
    d.observe(onTime);
    const [first] = d.events({ level: 'asn' });
    expect(first!.start).toBeGreaterThanOrEqual(start + 2 * HOUR);
    const before = d.revisions();
    clock.t += HOUR;
    const caused = d.observe(late);
    const after = d.revisions();
    expect(after.slice(0, before.length)).toEqual(before);
    const moved = caused.find((r) => r.event_id === first!.id)!;
    expect(moved.type).toBe('changed');
    expect(moved.revision).toBe(first!.revision + 1);
    expect(moved.changes.start).toEqual({ from: first!.start, to: moved.event.start });
    expect(Math.abs(moved.event.start - start)).toBeLessThanOrEqual(HOUR);
    expect(after.map((r) => r.seq)).toEqual(after.map((_, i) => i + 1));
    // Still one event per series: no duplicate.
    expect(d.events({ level: 'asn' })).toHaveLength(1);
  });

  it('groups events of one method that overlap in time and share a target or network into an incident', () => {
    const fleet = [...probes(9198, 3), ...probes(21299, 3)];
    const d = detector();
    d.observe(
      fleetRun(fleet, T0, T0 + 24 * HOUR, (p, t, time) => {
        if (within(time, T0 + 4 * HOUR, T0 + 8 * HOUR) && p.asn === 9198 && (t === 'facebook' || t === 'instagram')) return 'tls.reset';
        if (within(time, T0 + 4 * HOUR, T0 + 8 * HOUR) && p.asn === 21299 && t === 'vk') return 'dns.nxdomain';
        if (within(time, T0 + 16 * HOUR, T0 + 20 * HOUR) && p.asn === 21299 && t === 'facebook') return 'tls.reset';
        return 'ok';
      }, ['facebook', 'instagram', 'vk', 'egov-kz']),
    );
    const incidents = d.incidents();
    expect(incidents.map((i) => [i.method, i.targets, i.asns])).toEqual([
      ['tls', ['facebook', 'instagram'], [9198]],
      ['dns', ['vk'], [21299]],
      ['tls', ['facebook'], [21299]],
    ]);
    for (const e of d.events()) expect(incidents.find((i) => i.id === e.incident)!.event_ids).toContain(e.id);
  });

  it('does not count a probe before it has min_probe_history hours of history', () => {
    const fleet = probes(9198, 3);
    const data = fleetRun(fleet, T0, T0 + 12 * HOUR, (_p, t, time) => (t === 'vk' && time < T0 + 3 * HOUR ? 'dns.nxdomain' : 'ok'));
    const trusting = detector();
    trusting.observe(data);
    expect(trusting.events()).not.toEqual([]);
    const careful = detector({ min_probe_history: 4 });
    careful.observe(data);
    expect(careful.events()).toEqual([]);
  });

  it('restores a saved state that goes on exactly like the original', () => {
    const fleet = [...probes(9198, 3), ...probes(21299, 3)];
    const data = fleetRun(fleet, T0, T0 + 36 * HOUR, (p, t, time) =>
      t === 'facebook' && within(time, T0 + 10 * HOUR, T0 + 20 * HOUR) ? 'tls.reset' : p.asn === 21299 && t === 'vk' && within(time, T0 + 15 * HOUR, T0 + 30 * HOUR) ? 'dns.bogon' : 'ok',
    );
    const half = data.findIndex((o) => o.time >= T0 + 16 * HOUR);
    const a = new EventDetector({ min_probe_history: 2, horizon_ms: 6 * HOUR }, { clock });
    a.observe(data.slice(0, half));
    a.advance(T0 + 16 * HOUR);
    const saved = JSON.parse(JSON.stringify(a.save()));
    const b = EventDetector.restore(saved, { clock });
    expect(b.events()).toEqual(a.events());
    for (const d of [a, b]) {
      d.observe(data.slice(half));
      d.advance(T0 + 36 * HOUR);
    }
    expect(b.events()).toEqual(a.events());
    expect(b.revisions()).toEqual(a.revisions());
    expect(b.incidents()).toEqual(a.incidents());
    expect(b.save()).toEqual(a.save());
    expect(a.events().length).toBeGreaterThan(1);
  });

  it('counts the horizon back from the latest data when the present is past it (an import of history): bounded detail, the same events', () => {
    const fleet = [...probes(9198, 3), ...probes(21299, 3)];
    const data = fleetRun(fleet, T0, T0 + 10 * 24 * HOUR, (p, t, time) =>
      t === 'facebook' && within(time, T0 + 2 * 24 * HOUR, T0 + 2 * 24 * HOUR + 6 * HOUR) ? 'tls.reset' : p.asn === 21299 && t === 'vk' && within(time, T0 + 8 * 24 * HOUR, T0 + 8 * 24 * HOUR + 5 * HOUR) ? 'dns.bogon' : 'ok',
    );
    const horizon = { min_probe_history: 2, horizon_ms: 24 * HOUR };
    // All at once, never advanced: nothing is compacted.
    const whole = new EventDetector(horizon, { clock });
    whole.observe(data);
    // In chunks, the present years after the data (the wall clock during an import), as an import's follower does.
    const imported = new EventDetector(horizon, { clock });
    imported.advance(T0 + 400 * 24 * HOUR);
    let detailed = 0;
    for (let i = 0; i < data.length; i += 100) {
      imported.observe(data.slice(i, i + 100));
      detailed = Math.max(detailed, ...[...imported.groups.values()].map((g) => [...g.buckets.values()].filter((b) => b.probes !== null).length));
    }
    for (const d of [whole, imported]) d.advance(T0 + 400 * 24 * HOUR);
    expect(imported.events().map(({ id, start, end, status, probe_count, measurement_count }) => ({ id, start, end, status, probe_count, measurement_count }))).toEqual(
      whole.events().map(({ id, start, end, status, probe_count, measurement_count }) => ({ id, start, end, status, probe_count, measurement_count })),
    );
    expect(whole.events().length).toBeGreaterThanOrEqual(2);
    // Detail is kept for the last day of data (the probes of a group measure in one of the two 15-minute buckets
    // of each half hour: 48 a day) and what one chunk adds, not for all ten days.
    expect(detailed).toBeGreaterThanOrEqual(48);
    expect(detailed).toBeLessThan(56);
    expect(imported.horizonStart()).toBe((T0 + 9 * 24 * HOUR) / (15 * MIN));
  });

  it('closes an open event whose series goes silent for max_gap_ms when time advances', () => {
    const fleet = probes(9198, 3);
    const d = detector();
    d.observe(fleetRun(fleet, T0, T0 + 6 * HOUR, (_p, t, time) => (t === 'facebook' && time >= T0 + 3 * HOUR ? 'tls.reset' : 'ok')));
    expect(d.events()[0]!.end).toBeNull();
    expect(d.advance(T0 + 7 * HOUR)).toEqual([]);
    const closed = d.advance(T0 + 20 * HOUR);
    expect(closed.map((r) => r.type)).toContain('closed');
    expect(d.events().every((e) => e.end !== null)).toBe(true);
  });

  it('rejects unknown and out-of-range options with the option named', () => {
    expect(() => resolveConfig({ bucket: 5 } as object)).toThrow(DetectorConfigError);
    expect(() => resolveConfig({ bucket_ms: 7 * MIN })).toThrow(/bucket_ms: .*does not divide a day/);
    expect(() => resolveConfig({ close_delta: 0.6 })).toThrow(/close_delta/);
    expect(() => resolveConfig({ min_probes: 0 })).toThrow(/min_probes: 0 is below 1/);
    expect(resolveConfig({ interval_ms: HOUR }).bucket_ms).toBe(30 * MIN);
  });
});

describe('observationFromRecord', () => {
  it('takes the network from the record and the verdict and scope from the measurement', () => {
    const records = simulateRecords({ days: 17, probes: 5 });
    let partial = null;
    for (const r of records) {
      if ((r.measurement.verdict as { scope?: string }).scope === 'partial') {
        partial = r;
        break;
      }
    }
    expect(partial).not.toBeNull();
    const record = { ...partial!, asn: 64500, cc: 'XX' };
    const obs = observationFromRecord(record);
    expect(obs).toMatchObject({ id: record.measurement.id, probe_id: record.probe_id, asn: 64500, cc: 'XX', scope: 'partial', verdict: 'tcp.timeout', target: 'telegram-dc' });
    expect(obs.time).toBe(Date.parse(record.measurement.started_at));
  });
});
