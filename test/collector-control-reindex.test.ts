// Reindex judges every archived measurement again with the control archive: the collector verdict recomputed, the archive untouched.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import { ControlHistory } from '../collector/control/history.js';
import { Archive, type ArchivedRecord } from '../collector/storage/archive.js';
import { MeasurementIndex } from '../collector/storage/measurement-index.js';
import { Store } from '../collector/storage/store.js';
import { formatTargets } from '../contract/target-list.js';
import { MEASUREMENT_SCHEMA, type Measurement } from '../contract/measurement.js';
import type { Evidence } from '../contract/evidence.js';
import { classify } from '../probe/classify/classify.js';
import { change, healthy, target } from './classify-builders.js';
import { targetList } from '../collector/targets/list.js';
import { ManualClock, request, startCollector, tempDir } from './fixtures/collector/helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const MIN = 60_000;
const T = Date.parse('2024-05-09T23:40:00Z');
const site = target({ id: 'facebook', domains: ['www.facebook.com'] });
const refused = change(healthy(site), 'tcp', () => true, (t) => ({ ...t, failure: 'connection_refused', rtt_ms: null }));

let serial = 0;
function measurement(evidence: Evidence, at: number, probe = 'probe-0001'): Measurement {
  serial++;
  return {
    schema: MEASUREMENT_SCHEMA,
    id: `01HXAMPLE${String(serial).padStart(17, '0')}`,
    probe: { id: probe, asn: 9198, cc: 'KZ', network: null, software: { name: 'ashyq-probe', version: 'test' } },
    target: { id: site.id, category: site.category },
    started_at: new Date(at).toISOString(),
    runtime_ms: 100,
    evidence,
    timing: { dns: 1, tcp: 1, tls: 1, http: 1 },
    verdict: classify(site, evidence),
  };
}

const record = (m: Measurement, receivedAt: number, over: Partial<ArchivedRecord> = {}): ArchivedRecord => ({
  received_at: new Date(receivedAt).toISOString(),
  probe_id: m.probe.id,
  asn: 9198,
  cc: 'KZ',
  network: null,
  ...over,
  measurement: m,
});

async function collectorDir(): Promise<{ dir: string; config: string }> {
  const dir = await tempDir();
  dirs.push(dir);
  const targets = path.join(dir, 'targets.yaml');
  await writeFile(targets, formatTargets([site]));
  const config = path.join(dir, 'collector.yaml');
  await writeFile(config, `data_dir: ${JSON.stringify(dir)}\ntargets_file: ${JSON.stringify(targets)}\ncontrol: { window_minutes: 90 }\n`);
  return { dir, config };
}

/** Every record of the probes' archive, as it reads back. */
async function archived(dir: string): Promise<ArchivedRecord[]> {
  const out: ArchivedRecord[] = [];
  for await (const { record } of (await Archive.open(path.join(dir, 'archive'), new ManualClock(T), { readonly: true })).read()) out.push(record);
  return out;
}

async function reindexed(config: string): Promise<string> {
  const out: string[] = [];
  const code = await main(['reindex', '--config', config], { stdout: { write: (s: string) => void out.push(s) }, stderr: { write: (s: string) => void out.push(s) } });
  expect(code, out.join('')).toBe(0);
  return out.join('');
}

describe('reindex with the control archive', () => {
  it('a block the control shares becomes down; a block it does not share stays; an archived judgement without its control stays; the archive is not rewritten', async () => {
    const { dir, config } = await collectorDir();
    const clock = new ManualClock(T);
    const probes = await Archive.open(path.join(dir, 'archive'), clock);
    const controls = await Archive.open(path.join(dir, 'control'), clock);
    // The site refused everyone at 23:40 (the control too, its measurement received the next day, late);
    // at 02:00 only the probe was refused (the control reached the site).
    const sharedBlock = measurement(refused, T + 20 * MIN); // 00:00 of the next day: the control is on the day before
    const ownBlock = measurement(refused, T + 140 * MIN);
    const lostControl = measurement(refused, T + 600 * MIN);
    const down = { verdict: { verdict: 'down' as const, layer: 'tcp' as const, confidence: 0.9, reason: 'gone', subjects: [] }, control_id: 'ctl-not-archived' };
    await controls.append([
      record(measurement(refused, T, 'collector-control'), T + 26 * 3600_000, { probe_id: 'collector-control', network: 'control' }),
      record(measurement(healthy(site), T + 135 * MIN, 'collector-control'), T + 27 * 3600_000, { probe_id: 'collector-control', network: 'control' }),
    ]);
    await probes.append([record(sharedBlock, T + 21 * MIN), record(ownBlock, T + 141 * MIN), record(lostControl, T + 601 * MIN, { collector: down })]);
    await Promise.all([probes.close(), controls.close()]);
    const before = await archived(dir);

    const out = await reindexed(config);
    let index0: string | null = null;
    expect(out).toMatch(/control: 2 control measurements; 2 measurements judged with one, 2 verdicts changed from the archived ones, 1 kept as archived/);
    expect(await archived(dir), 'the archive is the source: never rewritten').toEqual(before);

    const index = MeasurementIndex.open(path.join(dir, 'store.sqlite'));
    try {
      expect([sharedBlock, ownBlock, lostControl].map((m) => [index.get(m.id)?.verdict, index.get(m.id)?.probe_verdict])).toEqual([
        ['down', 'tcp.refused'],
        ['tcp.refused', 'tcp.refused'],
        ['down', 'tcp.refused'],
      ]);
      expect(index.rejudged(sharedBlock.id)).toMatchObject({ verdict: { verdict: 'down' }, control_id: expect.any(String) });
      index0 = index.rejudged(sharedBlock.id)?.control_id ?? null;
      expect(index.rejudged(ownBlock.id)).toMatchObject({ verdict: { verdict: 'tcp.refused' } });
      expect(index.rejudged(lostControl.id), 'kept as archived: no overlay').toBeUndefined();
    } finally {
      index.close();
    }
    const store = Store.open(path.join(dir, 'store.sqlite'));
    try {
      const byVerdict = new Map<string, number>();
      for (const row of store.aggregates()) byVerdict.set(row.verdict, (byVerdict.get(row.verdict) ?? 0) + row.count);
      expect(Object.fromEntries(byVerdict)).toEqual({ down: 2, 'tcp.refused': 1 });
    } finally {
      store.close();
    }

    // The record as the API shows it: the judgement reindex made, beside the probe's.
    const c = await startCollector({ dir, targets: targetList([site]) });
    try {
      const shown = (await request(`${c.url}/api/v1/measurements/${sharedBlock.id}`)).json() as { measurement: { decision: { verdict: string }; probe_decision: { verdict: string }; control_id: string | null } };
      expect([shown.measurement.decision.verdict, shown.measurement.probe_decision.verdict, shown.measurement.control_id]).toEqual(['down', 'tcp.refused', index0]);
    } finally {
      await c.stop();
    }

    // A second reindex finds the same: nothing changes twice.
    expect(await reindexed(config)).toMatch(/2 verdicts changed from the archived ones/);
  });

  it('no control archive: the archived verdicts stand, and reindex says so', async () => {
    const { dir, config } = await collectorDir();
    const probes = await Archive.open(path.join(dir, 'archive'), new ManualClock(T));
    await probes.append([record(measurement(refused, T), T)]);
    await probes.close();
    expect(await reindexed(config)).toMatch(/control: no control measurements archived; the archived verdicts stand/);
  });
});

describe('ControlHistory', () => {
  it('finds the nearest control across a day boundary and in a later segment, skips offline controls, and nothing outside the window', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const clock = new ManualClock(T);
    const archive = await Archive.open(dir, clock);
    const offline = { ...measurement(healthy(site), T + 25 * MIN), verdict: { verdict: 'offline' as const, layer: null, confidence: 0.9, reason: 'down here', subjects: [] } };
    const early = measurement(healthy(site), T);
    await archive.append([record(early, T + 2 * 86_400_000), record(offline, T + 2 * 86_400_000)]);
    await archive.close();
    const history = await ControlHistory.open(await Archive.open(dir, clock, { readonly: true }), 90 * MIN);
    expect(history.size).toBe(2);
    expect((await history.nearest('facebook', T + 30 * MIN))?.id, 'the offline one is nearer but judges nothing').toBe(early.id);
    expect(await history.nearest('facebook', T + 91 * MIN)).toBeNull();
    expect(await history.nearest('youtube', T)).toBeNull();
  });
});
