// Blocking events in the collector: found from live uploads, served by the API and the command line, kept across a restart, rebuilt by reindex, and the same from an import.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import { EventDetector } from '../collector/events/detector.js';
import { observationFromRecord } from '../collector/events/observation.js';
import { simulateRecords } from '../collector/events/simulate.js';
import type { BlockingEvent } from '../collector/events/types.js';
import type { ArchivedRecord } from '../collector/storage/archive.js';
import type { Measurement } from '../contract/measurement.js';
import type { BatchAnswer } from '../contract/wire.js';
import { makeMeasurement, request, startCollector, T0, TARGETS_FILE, tempDir, type RunningCollector, type TestProbe } from './fixtures/collector/helpers.js';

const HOUR = 3_600_000;
const cleanup: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

function capture(): { out: string[]; err: string[]; io: { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean } } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (t) => out.push(t) > 0 }, stderr: { write: (t) => err.push(t) > 0 } } };
}

/** What an analyst compares: the series, how, where, when (to the minute) and how many probes. */
function essence(events: ReadonlyArray<Pick<BlockingEvent, 'series' | 'kind' | 'method' | 'scope' | 'start' | 'end' | 'probe_count' | 'targets' | 'asns'>>): unknown[] {
  return events.map((e) => ({ series: e.series, kind: e.kind, method: e.method, scope: e.scope, start: e.start, end: e.end, probes: e.probe_count, targets: e.targets, asns: e.asns }));
}

/**
 * Three probes on AS9198 measure YouTube and the domestic canary every 30 minutes for 14 hours
 * before T0; YouTube's TLS is reset from 8 h to 4 h before T0 (from `blockFrom` to `blockTo`).
 */
function fleetMeasurements(probes: TestProbe[]): { byProbe: Map<string, Measurement[]>; blockFrom: number; blockTo: number } {
  const start = T0 - 14 * HOUR;
  const blockFrom = T0 - 8 * HOUR;
  const blockTo = T0 - 4 * HOUR;
  const byProbe = new Map<string, Measurement[]>();
  probes.forEach((p, i) => {
    const list: Measurement[] = [];
    for (let t = start + i * 60_000; t < T0; t += 30 * 60_000) {
      const blocked = t >= blockFrom && t < blockTo;
      list.push(makeMeasurement({ probeId: p.id, at: t, verdict: blocked ? 'tls.reset' : 'ok' }));
      list.push(makeMeasurement({ probeId: p.id, at: t + 1000, target: { id: 'canary-kz', category: 'canary' } }));
    }
    byProbe.set(p.id, list);
  });
  return { byProbe, blockFrom, blockTo };
}

async function configFile(dir: string): Promise<string> {
  const file = path.join(dir, 'collector.yaml');
  await writeFile(file, `data_dir: ${path.join(dir, 'data')}\ntargets_file: ${TARGETS_FILE}\nevents:\n  interval_minutes: 30\n  min_probe_history_hours: 2\n`);
  return file;
}

describe('blocking events in the collector', () => {
  it('opens an event from live uploads of several probes, serves it, keeps it across a restart and rebuilds it by reindex', async () => {
    const dir = await tempDir();
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const file = await configFile(dir);
    const events = { interval_minutes: 30, min_probe_history_hours: 2 };
    const c: RunningCollector = await startCollector({ dir: path.join(dir, 'data'), events });
    const probes = [await c.register(), await c.register(), await c.register()];
    const { byProbe, blockFrom, blockTo } = fleetMeasurements(probes);
    for (const p of probes) {
      const answer = (await c.post(p, byProbe.get(p.id)!)).json() as BatchAnswer;
      expect(answer.results.every((r) => r.status === 'accepted')).toBe(true);
      c.clock.advance(1);
    }

    const listed = await request(`${c.url}/api/v1/events`);
    expect(listed.status).toBe(200);
    const found = (listed.json() as { events: Array<Record<string, unknown>> }).events;
    const youtube = found.filter((e) => e['series'] === 'youtube/AS9198/tls');
    expect(youtube).toHaveLength(1);
    const event = youtube[0]!;
    expect(event).toMatchObject({ kind: 'blocking', method: 'tls', targets: ['youtube'], asns: [9198], probe_count: 3, status: 'closed' });
    // Onset and end within two intervals (30 min) of the block's real start and end.
    const start = Date.parse(event['start'] as string);
    const end = Date.parse(event['end'] as string);
    expect(Math.abs(start - blockFrom)).toBeLessThanOrEqual(HOUR);
    expect(Math.abs(end - blockTo)).toBeLessThanOrEqual(HOUR);
    expect((event['evidence'] as string[]).length).toBeGreaterThan(0);
    // Nothing on the canary, which never failed.
    expect(found.filter((e) => (e['targets'] as string[]).includes('canary-kz'))).toEqual([]);

    const one = await request(`${c.url}/api/v1/events/${encodeURIComponent(event['id'] as string)}`);
    expect(one.status).toBe(200);
    const detail = one.json() as { event: Record<string, unknown>; revisions: Array<{ type: string; revision: number }> };
    expect(detail.event['id']).toBe(event['id']);
    expect(detail.revisions[0]!.type).toBe('opened');
    expect(detail.revisions.map((r) => r.revision)).toEqual(detail.revisions.map((_, i) => i + 1));
    expect((await request(`${c.url}/api/v1/events/nope`)).status).toBe(404);

    // Filters.
    const filtered = async (q: string) => ((await request(`${c.url}/api/v1/events?${q}`)).json() as { events: unknown[] }).events.length;
    expect(await filtered('target=youtube&asn=AS9198&method=tls')).toBeGreaterThanOrEqual(1);
    expect(await filtered('target=telegram')).toBe(0);
    expect(await filtered(`to=${new Date(blockFrom - 3 * HOUR).toISOString()}`)).toBe(0);
    expect(await filtered('open=true')).toBe(0);
    for (const q of ['asn=x', 'method=smoke', 'from=yesterday', 'open=maybe', 'cc=Kazakhstan', `from=${T0}&to=${T0 - 1}`]) {
      const bad = await request(`${c.url}/api/v1/events?${q}`);
      expect([q, bad.status]).toEqual([q, 400]);
    }
    const incidents = (await request(`${c.url}/api/v1/incidents`)).json() as { incidents: Array<{ event_ids: string[] }> };
    expect(incidents.incidents.some((i) => i.event_ids.includes(event['id'] as string))).toBe(true);

    // The command line reads the same store, with the server running.
    const cli = capture();
    expect(await main(['events', '--config', file, '--target', 'youtube', '--asn', '9198'], cli.io)).toBe(0);
    expect(cli.out.join('')).toContain('blocking by tls  youtube on AS9198  3 probes');
    expect(cli.out.join('')).toContain('UTC+5');
    const json = capture();
    expect(await main(['events', '--config', file, '--json', '--method', 'tls', '--asn', '9198', '--target', 'youtube'], json.io)).toBe(0);
    const lines = json.out.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['id'])).toContain(event['id']);
    const bad = capture();
    expect(await main(['events', '--config', file, '--since', 'last tuesday'], bad.io)).toBe(2);
    expect(bad.err.join('')).toContain('--since: expected an ISO 8601 time');

    const live = essence(c.collector.eventStore.events());
    await c.stop();

    // A restart keeps the events (and catches up nothing new).
    const again = await startCollector({ dir: path.join(dir, 'data'), events });
    expect(essence(again.collector.eventStore.events())).toEqual(live);
    await again.stop();

    // reindex rebuilds them from the archive.
    const re = capture();
    expect(await main(['reindex', '--config', file], re.io)).toBe(0);
    expect(re.out.join('')).toMatch(/\d+ blocking events, \d+ incidents/);
    const after = await startCollector({ dir: path.join(dir, 'data'), events });
    cleanup.push(() => after.stop());
    expect(essence(after.collector.eventStore.events())).toEqual(live);
  });

  it('imports a simulated fleet: the same events as the detector finds on the records, idempotent, bad lines named by file and line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-import-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const sim = path.join(dir, 'sim');
    const simulated = capture();
    expect(await main(['simulate', '--out', sim, '--days', '8', '--probes', '10', '--seed', '3'], simulated.io)).toBe(0);
    expect(simulated.out.join('')).toMatch(/\d+ measurements in \d+ segments/);
    const { readdir } = await import('node:fs/promises');
    const segments = (await readdir(sim)).filter((f) => f.includes('.jsonl')).sort().map((f) => path.join(sim, f));
    // A broken segment beside them: two bad lines around a valid one.
    const records: ArchivedRecord[] = [...simulateRecords({ days: 8, probes: 10, seed: 3 })];
    const extra = { ...records[0]!, measurement: { ...records[0]!.measurement, id: '01HXR0000000000000000EXTRA' } };
    const broken = path.join(dir, 'broken.jsonl');
    await writeFile(broken, `{"not": "a record"}\n${JSON.stringify(extra)}\nnot json\n`);

    const file = path.join(dir, 'collector.yaml');
    await writeFile(file, `data_dir: ${path.join(dir, 'data')}\nevents:\n  interval_minutes: 30\n`);
    const first = capture();
    expect(await main(['import', '--config', file, ...segments, broken, '--json'], first.io)).toBe(0);
    const summary = JSON.parse(first.out.join('')) as { read: number; accepted: number; duplicates: number; rejected: number; problems: Array<{ file: string; line: number; code: string }> };
    expect(summary.accepted).toBe(records.length + 1);
    expect(summary.rejected).toBe(2);
    expect(summary.problems.map((p) => [path.basename(p.file), p.line, p.code])).toEqual([
      ['broken.jsonl', 1, 'bad_record'],
      ['broken.jsonl', 3, 'bad_json'],
    ]);

    // The detector on the same records, in memory, finds the same events.
    const detector = new EventDetector({ interval_ms: 30 * 60_000, min_probes: 2, min_probe_history: 6 }, { clock: { now: () => Date.now(), monotonic: () => performance.now() } });
    detector.observe([...records, extra].map(observationFromRecord));
    detector.advance(Date.now());
    const { EventStore } = await import('../collector/storage/event-store.js');
    const stored = EventStore.open(path.join(dir, 'data', 'events.sqlite'));
    const imported = stored.events();
    stored.close();
    expect(imported.length).toBeGreaterThan(5);
    expect(essence(imported)).toEqual(essence(detector.events()));
    // The first eight days script a DNS block of VK and a TLS block of three social networks.
    expect(new Set(imported.map((e) => e.method))).toEqual(new Set(['dns', 'tls']));

    // Again: every measurement is a duplicate, and the events do not change.
    const second = capture();
    expect(await main(['import', '--config', file, ...segments, '--json'], second.io)).toBe(0);
    expect(JSON.parse(second.out.join(''))).toMatchObject({ accepted: 0, duplicates: records.length, rejected: 0 });
    const again = EventStore.open(path.join(dir, 'data', 'events.sqlite'));
    expect(essence(again.events())).toEqual(essence(imported));
    again.close();

    const missing = capture();
    expect(await main(['import', '--config', file], missing.io)).toBe(2);
    expect(missing.err.join('')).toContain('name at least one archive segment');
  }, 120_000);
});
