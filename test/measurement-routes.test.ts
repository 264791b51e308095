// The evidence look-up API: GET /api/v1/measurements (filters, paging, 400s), /api/v1/measurements/:id (whole record, 404), /api/v1/networks, event examples that open, no probe address served.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollector } from '../collector/app.js';
import { parseCollectorConfig } from '../collector/config.js';
import type { Measurement } from '../contract/measurement.js';
import type { BatchAnswer } from '../contract/wire.js';
import { makeMeasurement, ManualClock, request, startCollector, T0, tempDir, testConfig, testTargets, type RunningCollector } from './fixtures/collector/helpers.js';

const HOUR = 3_600_000;
/** The probes upload from this loopback address: it must appear in no answer. */
const PROBE_ADDRESS = '127.0.0.77';

type Row = Record<string, unknown> & { id: string; started_at: string; verdict: string };

let c: RunningCollector;
const sent: Measurement[] = [];
let probes: string[] = [];

async function json(pathAndQuery: string): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const res = await request(`${c.url}${pathAndQuery}`);
  return { status: res.status, body: res.json() as Record<string, unknown>, text: res.text };
}

beforeAll(async () => {
  c = await startCollector({ events: { interval_minutes: 30, min_probe_history_hours: 2 } });
  const list = [await c.register(), await c.register(), await c.register(), await c.register()];
  probes = list.map((p) => p.id);
  // 14 hours, every 30 minutes: YouTube reset on AS9198 (three probes) from 8 to 4 hours ago; the fourth probe on AS21299; canary ok.
  for (const [i, p] of list.entries()) {
    const batch: Measurement[] = [];
    for (let t = T0 - 14 * HOUR + i * 60_000; t < T0; t += 30 * 60_000) {
      const blocked = i < 3 && t >= T0 - 8 * HOUR && t < T0 - 4 * HOUR;
      const m = makeMeasurement({ probeId: p.id, at: t, verdict: blocked ? 'tls.reset' : 'ok', asn: i < 3 ? 9198 : 21299 });
      // A middlebox echoing the client's address in a header: never served.
      m.evidence.http[0]!.headers['x-forwarded-for'] = PROBE_ADDRESS;
      batch.push(m, makeMeasurement({ probeId: p.id, at: t + 1000, target: { id: 'canary-kz', category: 'canary' }, asn: i < 3 ? 9198 : 21299 }));
    }
    const answer = (await c.post(p, batch, { localAddress: PROBE_ADDRESS })).json() as BatchAnswer;
    expect(answer.results.every((r) => r.status === 'accepted')).toBe(true);
    sent.push(...batch);
    c.clock.advance(1);
  }
});

afterAll(async () => {
  await c.dispose();
});

describe('GET /api/v1/measurements', () => {
  it('lists newest first and pages through everything with the cursor, without repeats', async () => {
    const seen: Row[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { status, body } = await json(`/api/v1/measurements?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(status).toBe(200);
      const page = body['measurements'] as Row[];
      expect(page.length).toBeLessThanOrEqual(7);
      seen.push(...page);
      cursor = body['next_cursor'] as string | null;
      pages++;
    } while (cursor !== null && pages < 100);
    expect(seen).toHaveLength(sent.length);
    expect(new Set(seen.map((r) => r.id)).size).toBe(sent.length);
    const times = seen.map((r) => Date.parse(r.started_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(pages).toBe(Math.ceil(sent.length / 7));
  });

  it('filters by time, target, asn, country, verdict and probe', async () => {
    const count = async (q: string): Promise<number> => ((await json(`/api/v1/measurements?limit=1000&${q}`)).body['measurements'] as Row[]).length;
    const expected = (f: (m: Measurement) => boolean) => sent.filter(f).length;
    expect(await count('verdict=tls.reset')).toBe(expected((m) => m.verdict.verdict === 'tls.reset'));
    expect(await count('verdict=tls.reset')).toBe(24);
    expect(await count('target=canary-kz')).toBe(expected((m) => m.target.id === 'canary-kz'));
    expect(await count('asn=AS21299')).toBe(expected((m) => m.probe.asn === 21299));
    expect(await count('asn=21299&target=youtube')).toBe(28);
    expect(await count('country=kz')).toBe(sent.length);
    expect(await count('country=RU')).toBe(0);
    expect(await count(`probe=${probes[1]}`)).toBe(expected((m) => m.probe.id === probes[1]));
    const from = new Date(T0 - 2 * HOUR).toISOString();
    expect(await count(`from=${from}&to=${T0}`)).toBe(expected((m) => Date.parse(m.started_at) >= T0 - 2 * HOUR));
    expect(await count(`from=${T0 - 2 * HOUR}&to=${T0 - HOUR}&verdict=ok&target=youtube`)).toBe(
      expected((m) => Date.parse(m.started_at) >= T0 - 2 * HOUR && Date.parse(m.started_at) < T0 - HOUR && m.verdict.verdict === 'ok' && m.target.id === 'youtube'),
    );
  });

  it('answers 400 naming the parameter', async () => {
    for (const [q, name] of [
      ['from=yesterday', 'from:'],
      ['to=x', 'to:'],
      ['asn=ASX', 'asn:'],
      ['country=KAZ', 'country:'],
      ['verdict=blocked', 'verdict:'],
      ['probe=a%20b', 'probe:'],
      ['limit=0', 'limit:'],
      ['limit=5000', 'limit:'],
      ['cursor=nonsense', 'cursor:'],
      [`from=${T0}&to=${T0 - 1}`, 'from must not be after to'],
    ] as const) {
      const { status, body } = await json(`/api/v1/measurements?${q}`);
      expect(status, q).toBe(400);
      expect((body['error'] as { code: string; message: string }).code).toBe('bad_query');
      expect((body['error'] as { message: string }).message.startsWith(name), q).toBe(true);
    }
  });
});

describe('GET /api/v1/measurements/:id', () => {
  it('serves the whole record: both verdicts, the reason, the evidence per layer, and no address of the probe', async () => {
    const m = sent.find((x) => x.verdict.verdict === 'tls.reset')!;
    const { status, body, text } = await json(`/api/v1/measurements/${m.id}`);
    expect(status).toBe(200);
    const got = body['measurement'] as Record<string, unknown>;
    expect(got['id']).toBe(m.id);
    expect(got['verdict']).toBe('tls.reset');
    expect(got['probe_verdict']).toBe('tls.reset');
    expect(got['reason']).toBe('reset after ClientHello with the target SNI');
    expect(got['network']).toEqual({ asn: 9198, cc: 'KZ', name: 'JSC Kazakhtelecom' });
    const evidence = got['evidence'] as Measurement['evidence'];
    expect(evidence.tls[0]!.failure).toBe('connection_reset');
    expect(evidence.dns[0]!.queries[0]!.addresses).toEqual(['142.250.74.46']);
    expect(evidence.http[0]!.headers).toEqual({ server: 'ESF', 'content-type': 'text/html; charset=utf-8' });
    expect(text).not.toContain(PROBE_ADDRESS);
  });

  it('answers 404 for an unknown id and 400 for something that is no id', async () => {
    const unknown = await json('/api/v1/measurements/01HXXXXXXXXXXXXXXXXXXXXXXX');
    expect(unknown.status).toBe(404);
    expect((unknown.body['error'] as { code: string }).code).toBe('not_found');
    expect((await json('/api/v1/measurements/not..an-id')).status).toBe(400);
  });

  it('opens every example measurement of the events', async () => {
    const { body } = await json('/api/v1/events');
    const events = body['events'] as Array<{ series: string; evidence: string[] }>;
    const youtube = events.find((e) => e.series === 'youtube/AS9198/tls');
    expect(youtube).toBeDefined();
    expect(youtube!.evidence.length).toBeGreaterThan(0);
    for (const id of events.flatMap((e) => e.evidence)) {
      const one = await json(`/api/v1/measurements/${id}`);
      expect(one.status).toBe(200);
      expect((one.body['measurement'] as { verdict: string }).verdict).not.toBe('ok');
    }
  });

  it('never serves the probe address in any list', async () => {
    for (const p of ['/api/v1/measurements?limit=1000', '/api/v1/networks', '/api/v1/events']) expect((await json(p)).text).not.toContain(PROBE_ADDRESS);
  });
});

describe('GET /api/v1/networks', () => {
  it('counts distinct probes and measurements per network, with its name and when last seen', async () => {
    const { status, body } = await json(`/api/v1/networks?from=${T0 - 24 * HOUR}&to=${T0}`);
    expect(status).toBe(200);
    const nets = body['networks'] as Array<Record<string, unknown>>;
    const last = (asn: number) => new Date(Math.max(...sent.filter((m) => m.probe.asn === asn).map((m) => Date.parse(m.started_at)))).toISOString();
    expect(nets).toEqual([
      { asn: 9198, cc: 'KZ', name: 'JSC Kazakhtelecom', probes: 3, measurements: sent.filter((m) => m.probe.asn === 9198).length, last_seen: last(9198) },
      { asn: 21299, cc: 'KZ', name: 'JSC Kazakhtelecom', probes: 1, measurements: sent.filter((m) => m.probe.asn === 21299).length, last_seen: last(21299) },
    ]);
    // By default the last 24 hours of the collector's clock; a window with nothing in it is empty.
    expect(((await json('/api/v1/networks')).body['networks'] as unknown[]).length).toBe(2);
    expect(((await json(`/api/v1/networks?from=${T0 + HOUR}&to=${T0 + 2 * HOUR}`)).body['networks'] as unknown[]).length).toBe(0);
    expect((await json('/api/v1/networks?from=soon')).status).toBe(400);
  });
});

describe('reports', () => {
  it('lists the months with a report.html and serves them read-only; the config key is validated', async () => {
    const dir = path.join(c.dir, 'reports-served');
    await mkdir(path.join(dir, '2024-04'), { recursive: true });
    await mkdir(path.join(dir, '2024-05'), { recursive: true });
    await mkdir(path.join(dir, 'notes'), { recursive: true });
    await writeFile(path.join(dir, '2024-04', 'report.html'), '<!doctype html><title>April</title>');
    await writeFile(path.join(dir, '2024-05', 'report.html'), '<!doctype html><title>May</title>');
    await writeFile(path.join(dir, 'notes', 'report.html'), 'not a month');
    // Without the key: no reports.
    expect((await json('/api/v1/reports')).body).toEqual({ reports: [] });
    expect((await json('/reports/2024-05/')).status).toBe(404);
    const data = await tempDir();
    const other = await createCollector({ ...testConfig(data), reports_dir: dir }, { clock: new ManualClock(T0), log: false, targets: await testTargets() });
    try {
      const url = (await other.app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
      expect((await request(`${url}/api/v1/reports`)).json()).toEqual({
        reports: [
          { month: '2024-05', url: '/reports/2024-05/' },
          { month: '2024-04', url: '/reports/2024-04/' },
        ],
      });
      const may = await request(`${url}/reports/2024-05/`);
      expect(may.status).toBe(200);
      expect(may.headers['content-type']).toMatch(/^text\/html/);
      expect(may.text).toContain('<title>May</title>');
      expect((await request(`${url}/reports/2024-05/report.html`)).text).toContain('May');
      for (const bad of ['/reports/notes/', '/reports/2024-06/', '/reports/2024-05/..%2F2024-04%2Freport.html', '/reports/2024-05/.hidden']) {
        expect((await request(`${url}${bad}`)).status, bad).toBe(404);
      }
      expect((await request(`${url}/reports/2024-05/`, { method: 'POST' })).status).toBe(404);
    } finally {
      await other.close();
      await rm(data, { recursive: true, force: true });
    }
    const config = parseCollectorConfig(`reports_dir: ${JSON.stringify(dir)}\n`, 'c.yaml', '/');
    expect(config.reports_dir).toBe(dir);
    expect(parseCollectorConfig('reports_dir: reports\n', 'c.yaml', '/srv/ashyq').reports_dir).toBe(path.resolve('/srv/ashyq', 'reports'));
    expect(() => parseCollectorConfig('reports_dir: [a]\n', 'c.yaml', '/')).toThrow(/reports_dir/);
    expect(() => parseCollectorConfig('report_dir: x\n', 'c.yaml', '/')).toThrow(/report_dir: unknown key/);
  });
});
