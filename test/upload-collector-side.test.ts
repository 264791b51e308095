// The collector's side of the upload additions: spool-overflow reports (stored once, in /metrics), the collector's own target, surge hints.
import { afterEach, describe, expect, it } from 'vitest';
import { targetList } from '../collector/targets/list.js';
import { COLLECTOR_TARGET } from '../contract/wire.js';
import type { LineWriter } from '../collector/sinks/influx/writer.js';
import type { ArchivedRecord } from '../collector/storage/archive.js';
import { metricValue } from './fakes/upload-collector.js';
import { makeMeasurement, request, startCollector, T0, testTargets, type RunningCollector } from './fixtures/collector/helpers.js';

const running: RunningCollector[] = [];

afterEach(async () => {
  for (const r of running.splice(0)) await r.dispose();
});

async function start(options: Parameters<typeof startCollector>[0] = {}): Promise<RunningCollector> {
  const r = await startCollector(options);
  running.push(r);
  return r;
}

const report = (dropped: number, first: string, last: string) => ({ dropped, first_dropped_at: first, last_dropped_at: last });

describe('spool-overflow reports', () => {
  it('stores a report sent alone or with measurements, counts a resent or grown report once, and shows totals in /metrics', async () => {
    const c = await start();
    const probe = await c.register();
    const first = '2024-05-09T06:00:00.000Z';

    const alone = await c.post(probe, [], { batch: { probe_id: probe.id, measurements: [], spool_overflow: report(3, first, '2024-05-09T06:10:00.000Z') } });
    expect(alone.status).toBe(200);
    expect(alone.json()).toEqual({ results: [] });
    expect(c.collector.store.spoolOverflowTotals()).toEqual({ reports: 1, dropped: 3 });

    // The same report again (its answer was lost), then grown by later drops: still one report, the larger count.
    c.clock.advance(1000);
    const m = makeMeasurement({ probeId: probe.id, at: T0 });
    const again = await c.post(probe, [m], { batch: { probe_id: probe.id, measurements: [m], spool_overflow: report(3, first, '2024-05-09T06:10:00.000Z') } });
    expect(again.status).toBe(200);
    expect(again.json().results[0].status).toBe('accepted');
    c.clock.advance(1000);
    await c.post(probe, [], { batch: { probe_id: probe.id, measurements: [], spool_overflow: report(7, first, '2024-05-09T06:40:00.000Z') } });
    expect(c.collector.store.spoolOverflowTotals()).toEqual({ reports: 1, dropped: 7 });

    // A later, separate overflow adds up.
    c.clock.advance(1000);
    await c.post(probe, [], { batch: { probe_id: probe.id, measurements: [], spool_overflow: report(2, '2024-05-09T06:50:00.000Z', '2024-05-09T06:50:00.000Z') } });
    const metrics = (await request(`${c.url}/metrics`)).text;
    expect(metricValue(metrics, 'ashyq_probe_spool_dropped_total')).toBe(9);
    expect(metricValue(metrics, 'ashyq_probe_spool_overflow_reports_total')).toBe(2);
    expect(metrics).toContain('# TYPE ashyq_probe_spool_dropped_total counter');
  });

  it('hands each report with new drops, as the store keeps it, to InfluxDB as a spool_overflow point with the network of its batch', async () => {
    const written: string[] = [];
    const writer: LineWriter = { write: async (lines) => (written.push(...lines), { ok: true }) };
    const c = await start({ deps: { overflowWriter: writer } });
    const probe = await c.register();
    const first = '2024-05-09T06:00:00.000Z';
    const m = makeMeasurement({ probeId: probe.id, at: T0 });
    await c.post(probe, [m], { batch: { probe_id: probe.id, measurements: [m], spool_overflow: report(3, first, '2024-05-09T06:10:00.000Z') } });
    c.clock.advance(1000);
    await c.post(probe, [], { batch: { probe_id: probe.id, measurements: [], spool_overflow: report(2, first, '2024-05-09T06:05:00.000Z') } }); // nothing new
    c.clock.advance(1000);
    await c.post(probe, [], { batch: { probe_id: probe.id, measurements: [], spool_overflow: report(5, first, '2024-05-09T06:20:00.000Z') } });
    await c.collector.overflowPoints!.flush();
    // One point for the overflow, its largest count; the batch without measurements has no network.
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^spool_overflow,asn=unknown,cc=unknown dropped=5i,probe="[^"]+",last_dropped_at="2024-05-09T06:20:00.000Z" \d+$/);
    expect(written[0]).toContain(`probe="${probe.id}"`);
    written.length = 0;
    c.clock.advance(1000);
    const n = makeMeasurement({ probeId: probe.id, at: T0 + 1000 });
    await c.post(probe, [n], { batch: { probe_id: probe.id, measurements: [n], spool_overflow: report(1, '2024-05-09T07:00:00.000Z', '2024-05-09T07:00:00.000Z') } });
    await c.collector.overflowPoints!.flush();
    let record: ArchivedRecord | undefined;
    for await (const { record: r } of c.collector.archive.read()) if (r.measurement.id === n.id) record = r;
    expect(record?.asn).toEqual(expect.any(Number));
    expect(written).toEqual([expect.stringMatching(new RegExp(`^spool_overflow,asn=${record!.asn},cc=${record!.cc ?? 'unknown'} dropped=1i,`))]);
  });

  it('keeps the totals across a restart', async () => {
    const c = await start();
    const probe = await c.register();
    await c.post(probe, [], { batch: { probe_id: probe.id, measurements: [], spool_overflow: report(4, '2024-05-09T06:00:00.000Z', '2024-05-09T06:00:00.000Z') } });
    await c.stop();
    const again = await start({ dir: c.dir, clock: c.clock });
    const metrics = (await request(`${again.url}/metrics`)).text;
    expect(metricValue(metrics, 'ashyq_probe_spool_dropped_total')).toBe(4);
  });

  it('refuses a malformed report with the whole batch (400 bad_batch), storing nothing', async () => {
    const c = await start();
    const probe = await c.register();
    const m = makeMeasurement({ probeId: probe.id, at: T0 });
    const bad: Array<[unknown, RegExp]> = [
      [report(0, '2024-05-09T06:00:00.000Z', '2024-05-09T06:00:00.000Z'), /spool_overflow\.dropped: 0 is below 1/],
      [report(1.5, '2024-05-09T06:00:00.000Z', '2024-05-09T06:00:00.000Z'), /spool_overflow\.dropped: expected an integer/],
      [report(1, 'yesterday', '2024-05-09T06:00:00.000Z'), /spool_overflow\.first_dropped_at: not an ISO 8601 UTC time/],
      [report(1, '2024-05-09T07:00:00.000Z', '2024-05-09T06:00:00.000Z'), /first_dropped_at is after last_dropped_at/],
      [{ ...report(1, '2024-05-09T06:00:00.000Z', '2024-05-09T06:00:00.000Z'), probe_ip: '192.0.2.1' }, /spool_overflow: unknown key "probe_ip"/],
      ['many', /spool_overflow: expected an object/],
    ];
    for (const [overflow, why] of bad) {
      c.clock.advance(1000);
      const res = await c.post(probe, [m], { batch: { probe_id: probe.id, measurements: [m], spool_overflow: overflow } });
      expect(res.status).toBe(400);
      expect(res.json().error.code).toBe('bad_batch');
      expect(res.json().error.message).toMatch(why);
    }
    expect(c.collector.store.spoolOverflowTotals()).toEqual({ reports: 0, dropped: 0 });
    expect(c.collector.store.measurementCount()).toBe(0);
  });
});

describe("the collector's own target", () => {
  it('accepts a tls.interception measurement of ashyq-collector without serving it as a target', async () => {
    const c = await start();
    const probe = await c.register();
    const m = { ...makeMeasurement({ probeId: probe.id, at: T0, verdict: 'tls.interception' }), target: { ...COLLECTOR_TARGET } };
    const wrongCategory = { ...makeMeasurement({ probeId: probe.id, at: T0 }), target: { id: COLLECTOR_TARGET.id, category: 'news' as const } };
    const res = await c.post(probe, [m, wrongCategory]);
    expect(res.json().results.map((r: { status: string; code?: string }) => r.code ?? r.status)).toEqual(['accepted', 'target_mismatch']);
    const served = JSON.parse((await request(`${c.url}/api/v1/targets`)).text) as { targets: Array<{ id: string }> };
    expect(served.targets.map((t) => t.id)).not.toContain(COLLECTOR_TARGET.id);
    const series = await request(`${c.url}/api/v1/series?target=${COLLECTOR_TARGET.id}&from=${T0 - 3600_000}&to=${T0 + 3600_000}`);
    expect(series.status).toBe(200);
    expect(series.json().points[0].verdicts).toEqual({ 'tls.interception': 1 });
  });
});

describe('surge hints in the target list', () => {
  it('adds an optional surge beside version and targets, covered by the ETag', async () => {
    const base = await testTargets();
    const surge = { targets: ['youtube'], interval_minutes: 10, until: '2024-05-09T13:00:00.000Z' };
    const withSurge = targetList(base.targets, surge);
    expect(JSON.parse(withSurge.body)).toEqual({ version: 1, targets: JSON.parse(base.body).targets, surge });
    expect(withSurge.etag).not.toBe(base.etag);
    expect(JSON.parse(base.body)).not.toHaveProperty('surge');
    const c = await start({ targets: withSurge });
    const res = await request(`${c.url}/api/v1/targets`);
    expect(res.headers.etag).toBe(withSurge.etag);
    expect(JSON.parse(res.text).surge).toEqual(surge);
  });
});
