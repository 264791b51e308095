// The detector's blocked share per series and bucket, written as blocked_share points to a real InfluxDB and rewritten when late data changes a bucket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { EventDetector } from '../collector/events/detector.js';
import type { Observation } from '../collector/events/observation.js';
import { sharesOf } from '../collector/events/shares.js';
import { SharePoints, shareLine } from '../collector/sinks/influx/share-points.js';
import { InfluxWriter } from '../collector/sinks/influx/writer.js';
import { findInfluxd, InfluxDB1, type InfluxQLSeries } from './services/influxdb.js';
import { startV2ToV1Adapter, type V2ToV1Adapter } from './services/v2-to-v1-adapter.js';

const lookup = findInfluxd();
const TOKEN = 'test-token';
const DB = 'ashyq';
const BUCKET = 15 * 60_000;
const T = Date.parse('2019-05-09T07:00:00.000Z');
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function obs(probe: string, minute: number, verdict: Observation['verdict'], id: string): Observation {
  return { id, probe_id: probe, target: 'youtube', category: 'video', asn: 9198, cc: 'KZ', time: T + minute * 60_000, verdict, layer: verdict === 'ok' ? null : 'tls', confidence: 0.9 };
}

/** A point's time (InfluxDB answers nanoseconds) as ISO 8601. */
function iso(time: unknown): string {
  return new Date(Number(BigInt(String(time)) / 1_000_000n)).toISOString();
}

function rows(series: InfluxQLSeries[]): Array<Record<string, unknown>> {
  return series.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
}

describe('blocked share of a series', () => {
  it('weighs each probe once per bucket and names the series', () => {
    const d = new EventDetector({ interval_ms: 30 * 60_000, min_probe_history: 0 }, { clock: systemClock });
    // Probe a: two measurements in the bucket, one blocked (share 1/2); b: blocked; c: fine.
    d.observe([obs('a', 1, 'tls.reset', 'a1'), obs('a', 2, 'ok', 'a2'), obs('b', 3, 'tls.reset', 'b1'), obs('c', 4, 'ok', 'c1')]);
    const shares = sharesOf(d, `youtube/AS9198|${Math.floor(T / BUCKET)}`);
    expect(shares).toEqual([
      { target: 'youtube', level: 'asn', asn: 9198, cc: 'KZ', method: 'tls', start: T, share: 0.5, blocked_probes: 2, probes: 3, measurements: 4 },
    ]);
    expect(shareLine(shares[0]!)).toBe(`blocked_share,target=youtube,level=asn,asn=9198,cc=KZ,method=tls share=0.5,blocked_probes=2i,probes=3i,measurements=4i ${T}000000`);
    // A series never blocked has no share to chart; the network's offline series is "shutdown".
    expect(sharesOf(d, `canary/AS9198|${Math.floor(T / BUCKET)}`)).toEqual([]);
    d.observe([obs('a', 5, 'offline', 'a3')]);
    expect(sharesOf(d, `*/AS9198|${Math.floor(T / BUCKET)}`).map((s) => [s.target, s.method])).toEqual([['*', 'shutdown']]);
  });
});

describe.skipIf(lookup.skip)('blocked_share points → v2→v1 adapter → real InfluxDB 1.x', () => {
  let influx: InfluxDB1;
  let adapter: V2ToV1Adapter;

  beforeAll(async () => {
    influx = await InfluxDB1.start(lookup);
    await influx.createDatabase(DB);
    adapter = await startV2ToV1Adapter({ upstream: influx.url, token: TOKEN });
  });

  afterAll(async () => {
    await adapter?.close();
    await influx?.destroy();
  });

  it('writes each touched bucket, and overwrites it when a late measurement changes its share', async () => {
    const d = new EventDetector({ interval_ms: 30 * 60_000, min_probe_history: 0 }, { clock: systemClock });
    const points = new SharePoints({
      writer: new InfluxWriter({ url: adapter.url, token: TOKEN, org: 'ashyq', bucket: DB, timeoutMs: 5000, gzip: false, connections: 1 }),
      detector: () => d,
      clock: systemClock,
      logger: quiet,
      flushEveryMs: 60_000,
    });
    points.start();
    try {
      const first = [obs('a', 1, 'tls.reset', 'a1'), obs('b', 2, 'tls.reset', 'b1'), obs('c', 20, 'ok', 'c1'), obs('a', 21, 'tls.reset', 'a2')];
      d.observe(first);
      points.note(first);
      expect(points.backlog()).toBe(8); // two buckets × (youtube and the network's offline series) × (AS and country)
      await points.flush();
      expect(points.backlog()).toBe(0);
      const q = `SELECT "share", "probes" FROM "blocked_share" WHERE "target" = 'youtube' AND "asn" = '9198' AND "method" = 'tls' GROUP BY "level"`;
      expect(rows(await influx.query(DB, q)).map((r) => [iso(r['time']), r['share'], r['probes']])).toEqual([
        ['2019-05-09T07:00:00.000Z', 1, 2],
        ['2019-05-09T07:15:00.000Z', 0.5, 2],
      ]);
      // Late: probe c measured YouTube fine in the first bucket too: its share drops to 2/3.
      const late = [obs('c', 3, 'ok', 'c0')];
      d.observe(late);
      points.note(late);
      await points.flush();
      const after = rows(await influx.query(DB, q)).map((r) => [iso(r['time']), r['share'], r['probes']]);
      expect(after).toHaveLength(2);
      expect(after[0]![0]).toBe('2019-05-09T07:00:00.000Z');
      expect(after[0]![1]).toBeCloseTo(2 / 3, 5);
      expect(after[0]![2]).toBe(3);
      // The country series is written beside it.
      const country = rows(await influx.query(DB, `SELECT "share" FROM "blocked_share" WHERE "level" = 'country' AND "target" = 'youtube' AND "cc" = 'KZ'`));
      expect(country.map((r) => iso(r['time']))).toEqual(['2019-05-09T07:00:00.000Z', '2019-05-09T07:15:00.000Z']);
    } finally {
      await points.stop();
    }
  });
});
