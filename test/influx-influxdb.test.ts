// The InfluxDB sink against a real InfluxDB 1.x behind the v2→v1 adapter, read back with InfluxQL as the dashboards do.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ArchivedRecord } from '../collector/storage/archive.js';
import { eventLine, pointTimestamp } from '../collector/sinks/influx/line.js';
import type { ArchiveSource } from '../collector/pipeline/archive-tail.js';
import { InfluxSink, type InfluxSinkOptions, type SinkLogger } from '../collector/sinks/influx/sink.js';
import { InfluxWriter } from '../collector/sinks/influx/writer.js';
import { blockedOf, makeRecord, makeRecords, MemoryArchive } from './services/archive-records.js';
import { findInfluxd, InfluxDB1, type InfluxQLSeries } from './services/influxdb.js';
import { startV2ToV1Adapter, type V2ToV1Adapter } from './services/v2-to-v1-adapter.js';

const lookup = findInfluxd();
const TOKEN = 'test-token';
const DB = 'ashyq';
const START = Date.parse('2019-05-09T01:00:00.000Z'); // InfluxDB 1.x keeps everything: old times are fine

const quiet: SinkLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Rows of a series as objects keyed by column. */
function rows(series: InfluxQLSeries[]): Array<Record<string, unknown>> {
  return series.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
}

describe.skipIf(lookup.skip)('InfluxSink → v2→v1 adapter → real InfluxDB 1.x', () => {
  let influx: InfluxDB1;
  let adapter: V2ToV1Adapter;
  let dir: string | undefined;
  const sinks: InfluxSink[] = [];

  beforeAll(async () => {
    influx = await InfluxDB1.start(lookup); // under CI a missing binary fails here with the lookup's message
    await influx.createDatabase(DB);
    adapter = await startV2ToV1Adapter({ upstream: influx.url, token: TOKEN });
  });

  afterAll(async () => {
    await adapter?.close();
    await influx?.destroy();
  });

  afterEach(async () => {
    await influx.restart(); // an outage test that failed midway must not take the server from the next test
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function sink(source: ArchiveSource, options: Partial<InfluxSinkOptions> = {}): Promise<InfluxSink> {
    dir ??= await mkdtemp(path.join(os.tmpdir(), 'ashyq-influx-sink-'));
    const s = new InfluxSink({
      url: adapter.url,
      token: TOKEN,
      org: 'ashyq',
      bucket: DB,
      stateDir: dir,
      source,
      logger: quiet,
      batchSize: 100,
      flushIntervalMs: 20,
      initialRetryDelayMs: 20,
      maxRetryDelayMs: 200,
      timeoutMs: 5000,
      ...options,
    });
    sinks.push(s);
    return s;
  }

  const q = (influxql: string) => influx.query(DB, influxql);

  /** A sink that writes `records` from an archive holding only them, drained. */
  async function writeAll(records: ArchivedRecord[]): Promise<InfluxSink> {
    const archive = new MemoryArchive();
    archive.append(records);
    const s = await sink(archive.source);
    s.start();
    expect(await s.drain()).toBe(true);
    return s;
  }

  it('writes N records that InfluxQL counts per verdict, with blocked shares and every timestamp', async () => {
    const records = makeRecords(500, { startMs: START, targetPrefix: 'basic-' });
    await writeAll(records);

    const perVerdict = rows(await q(`SELECT count("count") AS n, sum("blocked") AS blocked FROM reachability WHERE target =~ /^basic-/ GROUP BY verdict`));
    const got = Object.fromEntries(perVerdict.map((r) => [r.verdict, [r.n, r.blocked]]));
    const expected: Record<string, [number, number]> = {};
    for (const r of records) {
      const v = r.measurement.verdict.verdict;
      const e = (expected[v] ??= [0, 0]);
      e[0]++;
      e[1] += blockedOf(v);
    }
    expect(got).toEqual(expected);

    // Every point at its nanosecond timestamp, with its probe id as a field and rtt as a float.
    const points = rows(await q(`SELECT "probe", "rtt", "runtime", "count", "asn", "cc", "layer", "category" FROM reachability WHERE target =~ /^basic-/`));
    expect(points).toHaveLength(500);
    const byTime = new Map(points.map((p) => [p.time as string, p]));
    for (const r of records) {
      const p = byTime.get(pointTimestamp(Date.parse(r.measurement.started_at), r.measurement.id));
      expect(p, r.measurement.id).toBeDefined();
      const tcp = r.measurement.evidence.tcp[0]!;
      expect(p).toMatchObject({
        probe: r.probe_id,
        rtt: tcp.failure === null ? tcp.rtt_ms : null,
        runtime: r.measurement.runtime_ms,
        count: 1,
        asn: r.asn === null ? 'unknown' : String(r.asn),
        cc: r.cc ?? 'unknown',
        layer: r.measurement.verdict.layer ?? 'none',
        category: r.measurement.target.category,
      });
    }
  });

  it('keeps two measurements of one series started in the same millisecond by two probes apart, and replays idempotently', async () => {
    const archive = new MemoryArchive();
    const same = { startMs: 0, startedAt: '2019-05-09T07:00:00.123Z', target: { id: 'tie-youtube', category: 'video' as const }, asn: 9198, cc: 'KZ' };
    archive.append([makeRecord(0, { ...same, probeId: 'probe-aaaa1111' }), makeRecord(1, { ...same, probeId: 'probe-bbbb2222' })]);
    const s1 = await sink(archive.source);
    s1.start();
    expect(await s1.drain()).toBe(true);
    await s1.stop();
    const first = rows(await q(`SELECT "probe", "count" FROM reachability WHERE target = 'tie-youtube'`));
    expect(first.map((r) => r.probe).sort()).toEqual(['probe-aaaa1111', 'probe-bbbb2222']);

    // A cursor behind what was written (crash between acknowledgement and cursor save): replay.
    await writeFile(path.join(dir!, 'influx.cursor.json'), JSON.stringify({ segment: 'mem', offset: 0 }));
    const s2 = await sink(archive.source);
    s2.start();
    expect(await s2.drain()).toBe(true);
    expect(s2.stats().written).toBe(2);
    const again = rows(await q(`SELECT count("count") AS n FROM reachability WHERE target = 'tie-youtube'`));
    expect(again[0]?.n).toBe(2);
  });

  it('loses nothing and doubles nothing when InfluxDB is stopped mid-stream and started again', async () => {
    const archive = new MemoryArchive();
    const s = await sink(archive.source, { batchSize: 40 });
    s.start();
    let appended = 0;
    const appendSome = (n: number) => {
      archive.append(makeRecords(n, { startMs: START + 10_000_000, targetPrefix: 'outage-' }, appended));
      appended += n;
      s.notify();
    };
    for (let i = 0; i < 8; i++) {
      appendSome(25);
      await new Promise((r) => setTimeout(r, 10));
    }
    await influx.stop(); // the adapter now answers 503
    for (let i = 0; i < 8; i++) {
      appendSome(25);
      await new Promise((r) => setTimeout(r, 20));
    }
    const deadline = Date.now() + 15_000;
    while (s.stats().failedAttempts === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(s.stats().lastError).toMatch(/503/);
    expect(s.backlog()).toBeGreaterThan(0);
    await influx.restart();
    appendSome(30);
    expect(await s.drain()).toBe(true);

    const points = rows(await q(`SELECT "probe" FROM reachability WHERE target =~ /^outage-/`));
    const times = points.map((p) => p.time as string).sort();
    const expected = archive.records.map((r) => pointTimestamp(Date.parse(r.measurement.started_at), r.measurement.id)).sort();
    expect(times).toEqual(expected);
    expect(times).toHaveLength(430);
  });

  it('round-trips escaped tags and string fields through the server', async () => {
    const hostile = [
      makeRecord(0, { startMs: START + 30_000_000, target: { id: 'esc-you tube,x=y', category: 'video' }, probeId: 'p "quoted" \\ back' }),
      makeRecord(1, { startMs: START + 30_000_000, target: { id: 'esc-Қазақ=тест', category: 'news' }, cc: 'K Z', probeId: 'p,comma=eq space' }),
      makeRecord(2, { startMs: START + 30_000_000, target: { id: 'esc-trailing\\', category: 'social' }, probeId: 'p\\' }),
    ];
    const s = await writeAll(hostile);
    expect(s.stats().rejected).toBe(0);
    const got = rows(await q(`SELECT "probe", "target", "cc" FROM reachability WHERE target =~ /^esc-/`)).map((r) => [r.target, r.cc, r.probe]);
    expect(got).toEqual([
      ['esc-you tube,x=y', 'KZ', 'p "quoted" \\ back'],
      ['esc-Қазақ=тест', 'K Z', 'p,comma=eq space'],
      ['esc-trailing/', 'unknown', 'p\\'],
    ]);
  });

  it('writes blocking_event annotations that InfluxQL reads back', async () => {
    const writer = new InfluxWriter({ url: adapter.url, token: TOKEN, org: 'ashyq', bucket: DB, timeoutMs: 5000 });
    const base = { id: 'ev-2019-05-09', target: 'youtube', asn: 9198, cc: 'KZ', method: 'tls.reset', probes: 14, confidence: 0.9 };
    const outcome = await writer.write([
      eventLine({ ...base, state: 'start', at: '2019-05-09T07:00:00Z', text: 'YouTube, Facebook "down" on AS9198' }),
      eventLine({ ...base, state: 'end', at: '2019-05-09T14:00:00Z', text: 'over' }),
    ]);
    expect(outcome).toEqual({ ok: true });
    const got = rows(await q(`SELECT "state", "text", "probes", "confidence", "event", "method" FROM blocking_event WHERE asn = '9198'`));
    expect(got.map((r) => [r.state, r.text, r.probes, r.confidence, r.event, r.method])).toEqual([
      ['start', 'YouTube, Facebook "down" on AS9198', 14, 0.9, 'ev-2019-05-09', 'tls.reset'],
      ['end', 'over', 14, 0.9, 'ev-2019-05-09', 'tls.reset'],
    ]);
  });

  it('retries a wrong token (HTTP 401) instead of dropping data', async () => {
    const archive = new MemoryArchive();
    archive.append(makeRecords(3, { startMs: START + 40_000_000, targetPrefix: 'auth-' }));
    const s = await sink(archive.source, { token: 'wrong' });
    s.start();
    const deadline = Date.now() + 10_000;
    while (s.stats().failedAttempts < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(s.stats().lastError).toMatch(/401/);
    expect(s.backlog()).toBe(3);
    await s.stop();
    const fixed = await sink(archive.source);
    fixed.start();
    expect(await fixed.drain()).toBe(true);
    expect(rows(await q(`SELECT count("count") AS n FROM reachability WHERE target =~ /^auth-/`))[0]?.n).toBe(3);
  });
});

