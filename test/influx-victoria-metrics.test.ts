// The InfluxDB sink against a real VictoriaMetrics (v2 write API): read back, outage mid-stream, restart from the cursor, escaping.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Archive, type ArchivedRecord } from '../collector/storage/archive.js';
import { pointTimestamp, toLines } from '../collector/sinks/influx/line.js';
import type { ArchiveSource } from '../collector/pipeline/archive-tail.js';
import { InfluxSink, type InfluxSinkOptions, type SinkLogger } from '../collector/sinks/influx/sink.js';
import { systemClock } from '../common/clock.js';
import { blockedOf, makeRecord, makeRecords, MemoryArchive } from './services/archive-records.js';
import { findVictoriaMetrics, VictoriaMetrics, type ExportedSeries } from './services/victoria-metrics.js';

const lookup = findVictoriaMetrics();
/** A week ago, whole second: inside retention and never "in the future" for the server. */
const START = Math.floor((Date.now() - 7 * 86_400_000) / 1000) * 1000;

const quiet: SinkLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The labels VictoriaMetrics derives from a record: measurement_field name plus the tags. */
function labelsOf(record: ArchivedRecord, field: string): Record<string, string> {
  const m = record.measurement;
  const asn = record.asn;
  return {
    __name__: `reachability_${field}`,
    target: m.target.id,
    category: m.target.category,
    asn: asn === null ? 'unknown' : String(asn),
    cc: record.cc ?? 'unknown',
    layer: m.verdict.layer ?? 'none',
    verdict: m.verdict.verdict,
    probe_verdict: m.verdict.verdict,
  };
}

/** Every (series, millisecond) sample of `field` as a sorted list of keys, one entry per stored sample. */
function sampleKeys(series: ExportedSeries[]): string[] {
  const keys: string[] = [];
  for (const s of series) {
    const labels = Object.keys(s.metric)
      .sort()
      .map((k) => `${k}=${s.metric[k]}`)
      .join(',');
    for (const t of s.timestamps) keys.push(`${labels}@${t}`);
  }
  return keys.sort();
}

function expectedKeys(records: ArchivedRecord[], field: string): string[] {
  return records
    .map((r) => {
      const labels = labelsOf(r, field);
      const text = Object.keys(labels)
        .sort()
        .map((k) => `${k}=${labels[k]}`)
        .join(',');
      return `${text}@${Date.parse(r.measurement.started_at)}`;
    })
    .sort();
}

describe.skipIf(lookup.skip)('InfluxSink → real VictoriaMetrics', () => {
  let vm: VictoriaMetrics;
  let dir: string;
  const sinks: InfluxSink[] = [];

  beforeAll(async () => {
    vm = await VictoriaMetrics.start(lookup); // under CI a missing binary fails here with the lookup's message
  });

  afterAll(async () => {
    await vm?.destroy();
  });

  afterEach(async () => {
    await vm.restart(); // an outage test that failed midway must not take the server from the next test
    await Promise.all(sinks.splice(0).map((s) => s.stop()));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function sink(source: ArchiveSource, options: Partial<InfluxSinkOptions> = {}): Promise<InfluxSink> {
    dir ??= await mkdtemp(path.join(os.tmpdir(), 'ashyq-vm-sink-'));
    const s = new InfluxSink({
      url: vm.url,
      token: 'unused-by-victoria-metrics',
      org: 'ashyq',
      bucket: 'ashyq',
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

  async function exported(prefix: string, field: string): Promise<ExportedSeries[]> {
    return vm.export(`{__name__="reachability_${field}", target=~"${prefix}.*"}`);
  }

  it('writes N records that read back exactly, per series and millisecond, with the right field values', async () => {
    const archive = new MemoryArchive();
    const records = makeRecords(600, { startMs: START, targetPrefix: 'basic-' });
    archive.append(records);
    const s = await sink(archive.source);
    s.start();
    expect(await s.drain()).toBe(true);

    const count = await exported('basic-', 'count');
    expect(sampleKeys(count)).toEqual(expectedKeys(records, 'count'));
    expect(count.flatMap((x) => x.values).every((v) => v === 1)).toBe(true);

    // blocked values: sum per verdict equals the number of blocked records of that verdict.
    const blocked = await exported('basic-', 'blocked');
    const byVerdict = new Map<string, number>();
    for (const x of blocked) byVerdict.set(x.metric.verdict!, (byVerdict.get(x.metric.verdict!) ?? 0) + x.values.reduce((a, b) => a + b, 0));
    const expected = new Map<string, number>();
    for (const r of records) expected.set(r.measurement.verdict.verdict, (expected.get(r.measurement.verdict.verdict) ?? 0) + blockedOf(r.measurement.verdict.verdict));
    expect(byVerdict).toEqual(expected);

    // The Prometheus query API sees the same counts per verdict.
    const end = START + 600 * 1000 + 1000;
    const result = await vm.query('sum by (verdict) (count_over_time(reachability_count{target=~"basic-.*"}[1h]))', end);
    const counts = Object.fromEntries(result.map((r) => [r.metric.verdict, r.value]));
    expect(counts).toEqual({ ok: 120, 'tls.reset': 120, 'dns.nxdomain': 120, down: 120, 'tcp.timeout': 120 });

    // rtt: the TCP connect RTT of each record, at its millisecond.
    const rtt = await exported('basic-', 'rtt');
    const rttByTime = new Map<number, number>();
    for (const x of rtt) x.timestamps.forEach((t, i) => rttByTime.set(t, x.values[i]!));
    for (const r of records) {
      const tcp = r.measurement.evidence.tcp[0]!;
      expect(rttByTime.get(Date.parse(r.measurement.started_at))).toBe(tcp.failure === null ? tcp.rtt_ms! : undefined);
    }
  });

  it('loses nothing and doubles nothing when the server is stopped mid-stream and started again', async () => {
    const archive = new MemoryArchive();
    const s = await sink(archive.source, { batchSize: 40 });
    s.start();
    let appended = 0;
    const appendSome = (n: number) => {
      archive.append(makeRecords(n, { startMs: START + 10_000_000, targetPrefix: 'outage-' }, appended));
      appended += n;
      s.notify();
    };
    for (let i = 0; i < 10; i++) {
      appendSome(25);
      await new Promise((r) => setTimeout(r, 10));
    }
    await vm.stop(); // mid-stream: writes are in flight or queued
    for (let i = 0; i < 10; i++) {
      appendSome(25);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => s.stats().failedAttempts > 0, 'failed attempts while down');
    expect(s.backlog()).toBeGreaterThan(0);
    await vm.restart();
    appendSome(30);
    expect(await s.drain()).toBe(true);

    const count = await exported('outage-', 'count');
    expect(sampleKeys(count)).toEqual(expectedKeys(archive.records, 'count'));
    expect(archive.records).toHaveLength(530);
  });

  it('resumes from its cursor over the real archive after a restart, sending only what is new', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-vm-sink-'));
    const archive = await Archive.open(path.join(dir, 'archive'), systemClock);
    try {
      const source: ArchiveSource = (from) => archive.read(from);
      const first = makeRecords(150, { startMs: START + 20_000_000, targetPrefix: 'resume-' });
      await archive.append(first);
      const s1 = await sink(source);
      s1.start();
      expect(await s1.drain()).toBe(true);
      await s1.stop();
      expect(s1.stats().cursor).toEqual(archive.position());

      const second = makeRecords(70, { startMs: START + 20_000_000, targetPrefix: 'resume-' }, 150);
      await archive.append(second);
      const rowsBefore = await settledRowCount(vm);
      const s2 = await sink(source);
      s2.start();
      expect(await s2.drain()).toBe(true);
      // VictoriaMetrics counts one row per field (its counter lags about a second): only the second
      // part's fields were sent, not the first part's again.
      const fieldsOf = (rs: ArchivedRecord[]) => rs.flatMap(toLines).reduce((n, l) => n + l.split(' ')[1]!.split(',').length, 0);
      expect((await settledRowCount(vm)) - rowsBefore).toBe(fieldsOf(second));
      expect(s2.stats()).toMatchObject({ written: 70, cursor: archive.position() });

      const count = await exported('resume-', 'count');
      expect(sampleKeys(count)).toEqual(expectedKeys([...first, ...second], 'count'));
    } finally {
      await archive.close();
    }
  });

  it('round-trips escaped tag values (comma, space, equals, non-ASCII) through the server', async () => {
    const archive = new MemoryArchive();
    const records = [
      makeRecord(0, { startMs: START + 30_000_000, target: { id: 'esc-you tube,x=y', category: 'video' } }),
      makeRecord(1, { startMs: START + 30_000_000, target: { id: 'esc-Қазақ=тест', category: 'news' }, cc: 'K,Z' }),
      makeRecord(2, { startMs: START + 30_000_000, target: { id: 'esc-back\\slash', category: 'social' }, asn: 4242 }),
    ];
    archive.append(records);
    const s = await sink(archive.source);
    s.start();
    expect(await s.drain()).toBe(true);
    const series = await exported('esc-', 'count');
    const seen = series.map((x) => ({ target: x.metric.target, cc: x.metric.cc, t: x.timestamps })).sort((a, b) => a.t[0]! - b.t[0]!);
    expect(seen).toEqual([
      { target: 'esc-you tube,x=y', cc: 'KZ', t: [START + 30_000_000] },
      { target: 'esc-Қазақ=тест', cc: 'K,Z', t: [START + 30_001_000] },
      // backslashes become slashes (InfluxDB 1.x and 2.x read them differently)
      { target: 'esc-back/slash', cc: 'KZ', t: [START + 30_002_000] },
    ]);
    // The nanosecond tiebreak is below VictoriaMetrics' millisecond precision: the time is started_at.
    expect(pointTimestamp(START + 30_000_000, records[0]!.measurement.id).slice(0, 13)).toBe(String(START + 30_000_000));
  });
});

/** VictoriaMetrics' count of ingested rows once it stopped moving (the counter lags about a second). */
async function settledRowCount(vm: VictoriaMetrics): Promise<number> {
  let last = await vm.selfMetric('vm_rows_inserted_total{type="influx"}');
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 1200));
    const now = await vm.selfMetric('vm_rows_inserted_total{type="influx"}');
    if (now === last) return now;
    last = now;
  }
  throw new Error('the row counter of VictoriaMetrics did not settle');
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
