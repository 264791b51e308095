// Event surges: while a blocking event is open, probes on its network get its targets in `surge` of GET /api/v1/targets; the surge ends when the event closes.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlockingEvent } from '../collector/events/types.js';
import type { AsnInfo } from '../collector/ingest/asn.js';
import type { EventsConfig } from '../collector/config.js';
import { asksForSurge, combineSurges, concerns, eventSurgeUntil } from '../collector/targets/event-surge.js';
import { targetList, type TargetList } from '../collector/targets/list.js';
import { writeSurge } from '../collector/targets/surge.js';
import type { Measurement } from '../contract/measurement.js';
import type { BatchAnswer, SurgeAnswer } from '../contract/wire.js';
import { metricValue } from './daemon-lab.js';
import { makeMeasurement, request, startCollector, T0, testTargets, type RunningCollector, type TestProbe } from './fixtures/collector/helpers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const INTERVAL = 30 * MIN;

/** Source addresses of the requesters and the networks the collector's lookup gives them. */
const ON_9198 = '127.0.0.2';
const ON_21299 = '127.0.0.3';
const ON_48716 = '127.0.0.4';
const ABROAD = '127.0.0.5';
const UNKNOWN = '127.0.0.6';
const NETWORKS: Record<string, AsnInfo> = {
  [ON_9198]: { asn: 9198, cc: 'KZ', network: 'JSC Kazakhtelecom' },
  [ON_21299]: { asn: 21299, cc: 'KZ', network: 'Kar-Tel LLC' },
  [ON_48716]: { asn: 48716, cc: 'KZ', network: 'PS Internet Company LLP' },
  [ABROAD]: { asn: 24940, cc: 'DE', network: 'Hetzner Online GmbH' },
};

let running: RunningCollector | undefined;
afterEach(async () => {
  await running?.dispose();
  running = undefined;
});

/** A collector with a 30-minute event interval whose lookup places the 127.0.0.x requesters (uploads from 127.0.0.1 keep the network they state). */
async function collector(events: Partial<EventsConfig> = {}, o: { dir?: string; targets?: TargetList } = {}): Promise<RunningCollector> {
  running = await startCollector({
    ...o,
    events: { interval_minutes: 30, min_probe_history_hours: 2, ...events },
    deps: {
      asnLookup: (ip) => NETWORKS[ip] ?? null,
      log: { level: 'trace', stream: { write: (line: string) => void running?.logs.push(line) } },
    },
  });
  return running;
}

/**
 * Probes (each on the ASN given) measure YouTube and the canary every 30 minutes from `from` to
 * `to`; YouTube's TLS is reset from `blockFrom` on. Uploaded probe by probe, the clock at `to`.
 */
async function upload(c: RunningCollector, probes: Array<{ probe: TestProbe; asn: number }>, o: { from: number; to: number; blockFrom: number }): Promise<void> {
  c.clock.t = Math.max(c.clock.t, o.to);
  for (const [i, { probe, asn }] of probes.entries()) {
    const list: Measurement[] = [];
    for (let t = o.from + i * MIN; t < o.to; t += INTERVAL) {
      list.push(makeMeasurement({ probeId: probe.id, at: t, asn, verdict: t >= o.blockFrom ? 'tls.reset' : 'ok' }));
      list.push(makeMeasurement({ probeId: probe.id, at: t + 1000, asn, target: { id: 'canary-kz', category: 'canary' } }));
    }
    const answer = (await c.post(probe, list)).json() as BatchAnswer;
    expect(answer.results.every((r) => r.status === 'accepted')).toBe(true);
    c.clock.advance(1);
  }
}

/** Three probes on AS9198 whose YouTube has been reset for the last four hours: an open event on AS9198. */
async function openYoutubeEvent(c: RunningCollector): Promise<Array<{ probe: TestProbe; asn: number }>> {
  const probes = [];
  for (let i = 0; i < 3; i++) probes.push({ probe: await c.register(), asn: 9198 });
  await upload(c, probes, { from: T0 - 14 * HOUR, to: T0, blockFrom: T0 - 4 * HOUR });
  return probes;
}

/** As every reader does: the events of what was counted but not yet derived are derived first. */
function openEvents(c: RunningCollector): BlockingEvent[] {
  c.collector.events.settle();
  return c.collector.eventStore.events({ open: true });
}

interface Served {
  status: number;
  etag: string;
  surge: SurgeAnswer | undefined;
  targets: string[];
}

async function targetsFrom(c: RunningCollector, localAddress: string, o: { etag?: string; headers?: Record<string, string> } = {}): Promise<Served> {
  const headers = { ...o.headers, ...(o.etag !== undefined ? { 'if-none-match': o.etag } : {}) };
  const res = await request(`${c.url}/api/v1/targets`, { localAddress, headers });
  const body = res.status === 200 ? (res.json() as { targets: Array<{ id: string }>; surge?: SurgeAnswer }) : null;
  return { status: res.status, etag: res.headers.etag as string, surge: body?.surge, targets: body?.targets.map((t) => t.id) ?? [] };
}

async function eventSurgesMetric(c: RunningCollector): Promise<number | null> {
  return metricValue((await request(`${c.url}/metrics`)).text, 'ashyq_event_surges_active');
}

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else out.push(full);
  }
  return out;
}

describe('event surges in GET /api/v1/targets', () => {
  it('asks probes on the blocked network for a surge of the event targets while it is open, and stops once it closes', async () => {
    const c = await collector();
    const probes = await openYoutubeEvent(c);
    const open = openEvents(c);
    expect(open.map((e) => e.series)).toContain('youtube/AS9198/tls');
    // The country series mirrors the one network: its event must not reach probes on other networks.
    expect(open.find((e) => e.level === 'country')).toMatchObject({ cc: 'KZ', asns: [9198] });

    const on9198 = await targetsFrom(c, ON_9198);
    expect(on9198.status).toBe(200);
    // The end: the end of the next 30-minute slot (T0 is on a slot's start).
    expect(on9198.surge).toEqual({ targets: ['youtube'], interval_minutes: 10, until: new Date(T0 + 2 * INTERVAL).toISOString() });
    expect(on9198.targets).toEqual(['youtube', 'telegram', 'canary-kz']);
    for (const elsewhere of [ON_21299, ABROAD, UNKNOWN]) expect([elsewhere, (await targetsFrom(c, elsewhere)).surge]).toEqual([elsewhere, undefined]);
    // Through the volunteer's proxy the address is the proxy's: not looked up, no event surge.
    expect((await targetsFrom(c, ON_9198, { headers: { 'x-ashyq-route': 'proxy' } })).surge).toBeUndefined();
    expect(await eventSurgesMetric(c)).toBe(1);
    expect(c.logs.some((l) => l.includes('event surge: asking probes on AS9198 to measure youtube every 10 min while event'))).toBe(true);

    // Renewed while the event stays open: the same end (and ETag) within a slot, a later one after it.
    c.clock.t = T0 + INTERVAL - 1;
    expect((await targetsFrom(c, ON_9198, { etag: on9198.etag })).status).toBe(304);
    c.clock.t = T0 + INTERVAL;
    const renewed = await targetsFrom(c, ON_9198, { etag: on9198.etag });
    expect(renewed.status).toBe(200);
    expect(renewed.surge?.until).toBe(new Date(T0 + 3 * INTERVAL).toISOString());

    // YouTube works again: the event closes, and with it the surge.
    await upload(c, probes, { from: T0, to: T0 + 3 * HOUR, blockFrom: Infinity });
    expect(openEvents(c).filter((e) => e.targets.includes('youtube'))).toEqual([]);
    const after = await targetsFrom(c, ON_9198, { etag: renewed.etag });
    expect(after.status).toBe(200);
    expect(after.surge).toBeUndefined();
    expect(after.etag).toBe((await targetsFrom(c, ON_21299)).etag);
    expect(await eventSurgesMetric(c)).toBe(0);
    expect(c.logs.some((l) => l.includes('no longer asks for a surge'))).toBe(true);
  });

  it("combines with the operator's surge into one answer, with an ETag per variant", async () => {
    const c = await collector();
    const plain = await targetsFrom(c, ON_9198);
    expect(plain.surge).toBeUndefined();
    expect((await targetsFrom(c, ON_21299)).etag).toBe(plain.etag);
    await openYoutubeEvent(c);

    const on9198 = await targetsFrom(c, ON_9198);
    const on21299 = await targetsFrom(c, ON_21299);
    expect(on9198.surge?.targets).toEqual(['youtube']);
    expect(on21299.surge).toBeUndefined();
    expect(on21299.etag).toBe(plain.etag);
    expect(on9198.etag).not.toBe(plain.etag);
    // Each requester's conditional request is answered for its own variant.
    expect((await targetsFrom(c, ON_9198, { etag: on9198.etag })).status).toBe(304);
    expect((await targetsFrom(c, ON_21299, { etag: on21299.etag })).status).toBe(304);
    const crossed = await targetsFrom(c, ON_21299, { etag: on9198.etag });
    expect(crossed.status).toBe(200);
    expect(crossed.surge).toBeUndefined();
    expect((await targetsFrom(c, ON_9198, { etag: plain.etag })).surge?.targets).toEqual(['youtube']);

    // The operator asks for telegram every 30 min for 3 h: one surge of both where the event is.
    const operatorUntil = new Date(T0 + 3 * HOUR).toISOString();
    await writeSurge(c.dir, { targets: ['telegram'], interval_minutes: 30, until: Date.parse(operatorUntil) }, await testTargets(), c.clock);
    const both = await targetsFrom(c, ON_9198, { etag: on9198.etag });
    expect(both.status).toBe(200);
    expect(both.surge).toEqual({ targets: ['telegram', 'youtube'], interval_minutes: 10, until: operatorUntil });
    const operatorOnly = await targetsFrom(c, ON_21299, { etag: on21299.etag });
    expect(operatorOnly.status).toBe(200);
    expect(operatorOnly.surge).toEqual({ targets: ['telegram'], interval_minutes: 30, until: operatorUntil });
    expect((await targetsFrom(c, UNKNOWN)).etag).toBe(operatorOnly.etag);
    expect(new Set([plain.etag, on9198.etag, both.etag, operatorOnly.etag]).size).toBe(4);
    expect((await targetsFrom(c, ON_9198, { etag: both.etag })).status).toBe(304);
    expect((await targetsFrom(c, ON_21299, { etag: operatorOnly.etag })).status).toBe(304);

    // An operator's surge asking more often and ending sooner: its interval, the event surge's end.
    await writeSurge(c.dir, { targets: ['youtube'], interval_minutes: 5, until: T0 + 20 * MIN }, await testTargets(), c.clock);
    expect((await targetsFrom(c, ON_9198)).surge).toEqual({ targets: ['youtube'], interval_minutes: 5, until: new Date(T0 + 2 * INTERVAL).toISOString() });
  });

  it('asks every probe of the country for a country-level event seen on several networks', async () => {
    const c = await collector();
    const probes = [];
    for (const asn of [9198, 9198, 21299, 21299]) probes.push({ probe: await c.register(), asn });
    await upload(c, probes, { from: T0 - 14 * HOUR, to: T0, blockFrom: T0 - 4 * HOUR });
    const country = openEvents(c).find((e) => e.level === 'country');
    expect(country).toMatchObject({ cc: 'KZ', asns: [9198, 21299], targets: ['youtube'] });

    // AS48716 has no probe that saw it, but it is in the country.
    for (const from of [ON_9198, ON_21299, ON_48716]) expect([from, (await targetsFrom(c, from)).surge?.targets]).toEqual([from, ['youtube']]);
    expect((await targetsFrom(c, ABROAD)).surge).toBeUndefined();
    expect((await targetsFrom(c, UNKNOWN)).surge).toBeUndefined();
    // Each network's own event and the country's.
    expect(openEvents(c).map((e) => e.series).sort()).toEqual(['youtube/AS21299/tls', 'youtube/AS9198/tls', 'youtube/KZ/tls']);
    expect(await eventSurgesMetric(c)).toBe(3);
  });

  it('asks for none for an event only one probe has seen', async () => {
    const c = await collector();
    const probes = [{ probe: await c.register(), asn: 21299 }];
    await upload(c, probes, { from: T0 - 14 * HOUR, to: T0, blockFrom: T0 - 4 * HOUR });
    expect(openEvents(c).find((e) => e.series === 'youtube/AS21299/tls')).toMatchObject({ single_probe: true, probe_count: 1 });
    expect((await targetsFrom(c, ON_21299)).surge).toBeUndefined();
    expect(await eventSurgesMetric(c)).toBe(0);
  });

  it('names only targets the collector still serves', async () => {
    const first = await collector();
    await openYoutubeEvent(first);
    await first.stop();
    running = undefined;
    // Restarted without YouTube in its list: the event is still open, but there is nothing to surge.
    const c = await collector({}, { dir: first.dir, targets: targetList((await testTargets()).targets.filter((t) => t.id !== 'youtube')) });
    expect(openEvents(c).map((e) => e.series)).toContain('youtube/AS9198/tls');
    expect((await targetsFrom(c, ON_9198)).surge).toBeUndefined();
    expect(await eventSurgesMetric(c)).toBe(0);
  });

  it('asks for none with events.surge_every_minutes 0', async () => {
    const c = await collector({ surge_every_minutes: 0 });
    await openYoutubeEvent(c);
    expect(openEvents(c).map((e) => e.series)).toContain('youtube/AS9198/tls');
    expect((await targetsFrom(c, ON_9198)).surge).toBeUndefined();
    expect(await eventSurgesMetric(c)).toBe(0);
  });

  it("never stores or logs the requester's address", async () => {
    const c = await collector();
    await openYoutubeEvent(c);
    for (const from of [ON_9198, ON_21299, UNKNOWN]) {
      const first = await targetsFrom(c, from);
      await targetsFrom(c, from, { etag: first.etag });
    }
    expect((await targetsFrom(c, ON_9198)).surge).toBeDefined();
    await c.stop();
    expect(c.logs.some((l) => l.includes('"url":"/api/v1/targets"'))).toBe(true); // request logging is on
    for (const address of [ON_9198, ON_21299, UNKNOWN]) {
      expect(c.logs.filter((l) => l.includes(address))).toEqual([]);
      const hits: string[] = [];
      for (const file of await filesUnder(c.dir)) {
        const bytes = await readFile(file);
        if (bytes.includes(address) || bytes.includes(Buffer.from(address, 'utf16le'))) hits.push(file);
      }
      expect([address, hits]).toEqual([address, []]);
    }
    expect(c.logs.filter((l) => /remoteAddress|remotePort/.test(l))).toEqual([]);
  });
});

describe('which open events ask for a surge, and of whom', () => {
  const base: BlockingEvent = {
    id: 'youtube/AS9198/tls@1',
    series: 'youtube/AS9198/tls',
    kind: 'blocking',
    status: 'open',
    start: T0 - HOUR,
    end: null,
    level: 'asn',
    targets: ['youtube'],
    categories: ['video'],
    asns: [9198],
    cc: 'KZ',
    method: 'tls',
    scope: 'full',
    probe_count: 3,
    measurement_count: 12,
    blocked_count: 12,
    confidence: 0.8,
    incident: null,
    revision: 1,
    evidence: [],
    single_probe: false,
  };

  it('blockings, partial blockings and throttlings that are open and seen by more than one probe', () => {
    for (const kind of ['blocking', 'partial', 'throttling'] as const) expect(asksForSurge({ ...base, kind })).toBe(true);
    expect(asksForSurge({ ...base, kind: 'shutdown', targets: ['*'] })).toBe(false);
    expect(asksForSurge({ ...base, status: 'closed', end: T0 })).toBe(false);
    expect(asksForSurge({ ...base, status: 'retracted' })).toBe(false);
    expect(asksForSurge({ ...base, single_probe: true, probe_count: 1 })).toBe(false);
    expect(asksForSurge({ ...base, single_probe: true, probe_count: 2 })).toBe(true);
    const country: BlockingEvent = { ...base, level: 'country', series: 'youtube/KZ/tls' };
    expect(asksForSurge(country)).toBe(false);
    expect(asksForSurge({ ...country, asns: [9198, 21299] })).toBe(true);
  });

  it('concerns its networks, and the whole country when country-level', () => {
    const kz = (asn: number | null) => ({ asn, cc: 'KZ' });
    expect(concerns(base, kz(9198))).toBe(true);
    expect(concerns(base, kz(21299))).toBe(false);
    expect(concerns(base, { asn: null, cc: 'KZ' })).toBe(false);
    const country: BlockingEvent = { ...base, level: 'country', asns: [9198, 21299] };
    expect(concerns(country, kz(48716))).toBe(true);
    expect(concerns(country, { asn: null, cc: 'KZ' })).toBe(true);
    expect(concerns(country, { asn: 24940, cc: 'DE' })).toBe(false);
  });

  it('ends one to two slots ahead, the same within a slot', () => {
    expect(eventSurgeUntil(T0, INTERVAL)).toBe(T0 + 2 * INTERVAL);
    expect(eventSurgeUntil(T0 + INTERVAL - 1, INTERVAL)).toBe(T0 + 2 * INTERVAL);
    expect(eventSurgeUntil(T0 + INTERVAL, INTERVAL)).toBe(T0 + 3 * INTERVAL);
  });

  it('combines two surges: both targets once, the shorter interval, the later end', () => {
    const a: SurgeAnswer = { targets: ['telegram', 'youtube'], interval_minutes: 30, until: new Date(T0 + HOUR).toISOString() };
    const b: SurgeAnswer = { targets: ['youtube', 'canary-kz'], interval_minutes: 10, until: new Date(T0 + 2 * HOUR).toISOString() };
    expect(combineSurges(a, b)).toEqual({ targets: ['telegram', 'youtube', 'canary-kz'], interval_minutes: 10, until: b.until });
    expect(combineSurges(b, a)).toEqual({ targets: ['youtube', 'canary-kz', 'telegram'], interval_minutes: 10, until: b.until });
    expect(combineSurges(a, null)).toBe(a);
    expect(combineSurges(null, b)).toBe(b);
    expect(combineSurges(null, null)).toBeNull();
  });
});
