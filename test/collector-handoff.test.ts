// The in-memory handoff from ingest to the InfluxDB sink: taken while caught up, declined (and read from the archive) when behind, after a restart or when memory is full; cursor commits stay in order.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ArchivedRecord } from '../collector/storage/archive.js';
import { toLines } from '../collector/sinks/influx/line.js';
import { InfluxSink, type InfluxSinkOptions, type SinkLogger } from '../collector/sinks/influx/sink.js';
import type { Collector } from '../collector/app.js';
import { systemClock } from '../common/clock.js';
import type { BatchAnswer } from '../contract/wire.js';
import { makeMeasurement, startCollector, T0, tempDir, type RunningCollector, type TestProbe } from './fixtures/collector/helpers.js';
import { makeRecords, MemoryArchive } from './services/archive-records.js';
import { V2WriteRecorder } from './services/v2-write-recorder.js';

const quiet: SinkLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

let recorder: V2WriteRecorder;
let stateDir: string;
const sinks: InfluxSink[] = [];
const collectors: RunningCollector[] = [];

beforeEach(async () => {
  recorder = await V2WriteRecorder.start();
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-handoff-'));
});

afterEach(async () => {
  for (const c of collectors.splice(0)) await c.dispose();
  await Promise.all(sinks.splice(0).map((s) => s.stop()));
  await recorder.close();
  await rm(stateDir, { recursive: true, force: true });
});

function sinkOptions(source: InfluxSinkOptions['source'], options: Partial<InfluxSinkOptions>): InfluxSinkOptions {
  return {
    url: recorder.url,
    token: 't',
    org: 'ashyq',
    bucket: 'ashyq',
    stateDir,
    source,
    logger: quiet,
    clock: systemClock,
    batchSize: 5,
    flushIntervalMs: 20,
    initialRetryDelayMs: 10,
    maxRetryDelayMs: 40,
    timeoutMs: 2000,
    ...options,
  };
}

/** A collector (manual clock at T0, data in `dir`) whose InfluxDB sink follows its archive and takes its handoffs. */
async function collectorWithSink(options: Partial<InfluxSinkOptions> = {}, dir?: string): Promise<{ c: RunningCollector; sink: InfluxSink }> {
  let sink: InfluxSink | undefined;
  const c = await startCollector({
    ...(dir !== undefined ? { dir } : {}),
    deps: {
      followers: ({ archive }) => {
        sink = new InfluxSink(sinkOptions((from) => archive.read(from), options));
        sinks.push(sink);
        sink.start();
        return [sink];
      },
    },
  });
  collectors.push(c);
  return { c, sink: sink! };
}

let sequence = 0;

/** Post `batches` batches of `size` fresh measurements; each must be accepted whole. */
async function postBatches(c: RunningCollector, probe: TestProbe, batches: number, size: number): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const ms = Array.from({ length: size }, () => makeMeasurement({ probeId: probe.id, at: T0 - 3_600_000 + 1000 * sequence++ }));
    c.clock.advance(1); // a new signature each time
    const res = await c.post(probe, ms);
    expect(res.status).toBe(200);
    expect((res.json() as BatchAnswer).results.every((r) => r.status === 'accepted')).toBe(true);
  }
}

async function archived(collector: Collector): Promise<ArchivedRecord[]> {
  const out: ArchivedRecord[] = [];
  for await (const { record } of collector.archive.read()) out.push(record);
  return out;
}

async function storedCursor(): Promise<unknown> {
  return JSON.parse(await readFile(path.join(stateDir, 'influx.cursor.json'), 'utf8'));
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every acknowledged line once, and exactly the archive's lines. */
async function expectWrittenExactly(collector: Collector): Promise<void> {
  const expected = (await archived(collector)).flatMap(toLines).sort();
  expect([...recorder.acknowledgedLines()].sort()).toEqual(expected);
}

describe('handoff from ingest to the InfluxDB sink', () => {
  it('writes accepted batches from the handoff, without reading them back from the archive', async () => {
    const { c, sink } = await collectorWithSink();
    expect(await sink.drain()).toBe(true); // the first read pass found the archive empty
    const probe = await c.register();
    await postBatches(c, probe, 6, 4);
    expect(await sink.drain()).toBe(true);

    await expectWrittenExactly(c.collector);
    expect(recorder.acknowledgedLines()).toHaveLength(24);
    expect(sink.stats()).toMatchObject({ written: 24, handedOver: 24, readFromArchive: 0, declinedOffers: 0 });
    expect(sink.stats().cursor).toEqual(c.collector.archive.position());
    expect(await storedCursor()).toEqual(c.collector.archive.position());
    expect(sink.backlog()).toBe(0);
  });

  it('declines handoffs while an outage fills its memory, counts them, and reads them from the archive afterwards', async () => {
    await recorder.close(); // connections refused
    const { c, sink } = await collectorWithSink({ batchSize: 3, maxQueuedRecords: 6, maxInFlight: 2 });
    expect(await Promise.race([sink.drain(), new Promise((r) => setTimeout(() => r('pending'), 200))])).toBe(true);
    const probe = await c.register();
    await postBatches(c, probe, 10, 3);
    await waitUntil(() => sink.stats().failedAttempts >= 2, 'failed attempts');
    expect(sink.backlog()).toBe(30); // exact, though only 6 are held in memory
    expect(sink.stats().declinedOffers).toBeGreaterThan(0);
    expect(sink.stats().handedOver).toBeLessThanOrEqual(6);

    await recorder.listen();
    expect(await sink.drain()).toBe(true);
    await expectWrittenExactly(c.collector);
    expect(recorder.acknowledgedLines()).toHaveLength(30); // refused connections acknowledged nothing: no duplicates
    const afterOutage = sink.stats();
    expect(afterOutage.readFromArchive).toBeGreaterThan(0);
    expect(afterOutage.handedOver + afterOutage.readFromArchive).toBe(30);
    expect(await storedCursor()).toEqual(c.collector.archive.position());

    // Caught up again: new batches come by handoff.
    await postBatches(c, probe, 3, 2);
    expect(await sink.drain()).toBe(true);
    expect(sink.stats().handedOver).toBe(afterOutage.handedOver + 6);
    expect(sink.stats().readFromArchive).toBe(afterOutage.readFromArchive);
    await expectWrittenExactly(c.collector);
    expect(recorder.acknowledgedLines()).toHaveLength(36);
  });

  it('after a restart reads from its cursor what it had not written, then takes handoffs again', async () => {
    const dir = await tempDir();
    const first = await collectorWithSink({}, dir);
    expect(await first.sink.drain()).toBe(true);
    const probe = await first.c.register();
    await postBatches(first.c, probe, 2, 5);
    expect(await first.sink.drain()).toBe(true);
    const written = recorder.acknowledgedLines().length;
    expect(written).toBe(10);
    await recorder.close(); // the next batches are archived but never reach the server
    await postBatches(first.c, probe, 3, 5);
    await waitUntil(() => first.sink.stats().failedAttempts >= 1, 'a failed attempt');
    await first.sink.stop();
    await first.c.stop();
    collectors.splice(collectors.indexOf(first.c), 1);

    await recorder.listen();
    const second = await collectorWithSink({}, dir);
    expect(await second.sink.drain()).toBe(true);
    expect(second.sink.stats()).toMatchObject({ readFromArchive: 15, handedOver: 0, written: 15 });
    await postBatches(second.c, probe, 2, 5);
    expect(await second.sink.drain()).toBe(true);
    expect(second.sink.stats()).toMatchObject({ readFromArchive: 15, handedOver: 10, written: 25 });
    await expectWrittenExactly(second.c.collector);
    expect(recorder.acknowledgedLines()).toHaveLength(35);
    expect(await storedCursor()).toEqual(second.c.collector.archive.position());
  });
});

describe('InfluxSink.offer', () => {
  const START = Date.parse('2026-01-10T06:00:00.000Z');

  it('takes only a handoff that continues exactly where it is; a gap is read from the archive, a repeat is ignored', async () => {
    const archive = new MemoryArchive();
    archive.append(makeRecords(3, { startMs: START }));
    const sink = new InfluxSink(sinkOptions(archive.source, {}));
    sinks.push(sink);
    sink.start();
    expect(await sink.drain()).toBe(true);
    expect(sink.stats()).toMatchObject({ readFromArchive: 3, handedOver: 0 });

    // Two records archived, offered as if they started later than they do: not taken.
    const gap = makeRecords(2, { startMs: START }, 3);
    archive.append(gap);
    expect(sink.offer(gap, { from: { segment: 'mem', offset: 4 }, to: { segment: 'mem', offset: 6 } })).toBe(false);
    expect(await sink.drain()).toBe(true);
    expect(sink.stats()).toMatchObject({ readFromArchive: 5, handedOver: 0, declinedOffers: 1, written: 5 });

    // The next two continue at offset 5: taken; offered again: ignored.
    const next = makeRecords(2, { startMs: START }, 5);
    archive.append(next);
    expect(sink.offer(next, { from: { segment: 'mem', offset: 5 }, to: { segment: 'mem', offset: 7 } })).toBe(true);
    expect(sink.offer(next, { from: { segment: 'mem', offset: 5 }, to: { segment: 'mem', offset: 7 } })).toBe(false);
    expect(await sink.drain()).toBe(true);
    expect(sink.stats()).toMatchObject({ readFromArchive: 5, handedOver: 2, written: 7 });
    expect(recorder.acknowledgedLines()).toHaveLength(7);
    expect([...recorder.acknowledgedLines()].sort()).toEqual(archive.records.flatMap(toLines).sort());
  });

  it('declines handoffs before its cursor is loaded and while it has no position in a non-empty archive', async () => {
    const archive = new MemoryArchive();
    archive.append(makeRecords(4, { startMs: START }));
    const sink = new InfluxSink(sinkOptions(archive.source, {}));
    sinks.push(sink);
    const more = makeRecords(1, { startMs: START }, 4);
    expect(sink.offer(more, { from: { segment: 'mem', offset: 4 }, to: { segment: 'mem', offset: 5 } })).toBe(false); // not started
    sink.start();
    archive.append(more);
    // Offset 0 of some segment, but the archive is not known to be empty: never taken blindly.
    expect(sink.offer(more, { from: { segment: 'other', offset: 0 }, to: { segment: 'other', offset: 1 } })).toBe(false);
    expect(await sink.drain()).toBe(true);
    expect(sink.stats()).toMatchObject({ readFromArchive: 5, handedOver: 0, written: 5 });
  });
});

/** A v2 write endpoint that holds the answer to chosen requests until released. */
class HeldAnswers {
  readonly arrived: string[][] = [];
  private readonly held = new Map<number, () => void>();
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(hold: (index: number) => boolean): Promise<HeldAnswers> {
    let self: HeldAnswers | null = null;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const index = self!.arrived.length;
        self!.arrived.push(Buffer.concat(chunks).toString('utf8').split('\n'));
        const answer = () => res.writeHead(204).end();
        if (hold(index)) self!.held.set(index, answer);
        else answer();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new HeldAnswers(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return self;
  }

  release(index: number): void {
    this.held.get(index)?.();
    this.held.delete(index);
  }

  close(): Promise<void> {
    for (const index of [...this.held.keys()]) this.release(index);
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('concurrent writes', () => {
  it('keeps requests in flight at once but saves the cursor only past what was acknowledged in order', async () => {
    const server = await HeldAnswers.start((index) => index === 0);
    try {
      const archive = new MemoryArchive();
      archive.append(makeRecords(4, { startMs: Date.parse('2026-01-10T06:00:00.000Z') }));
      const sink = new InfluxSink({ ...sinkOptions(archive.source, { batchSize: 2, maxInFlight: 2, gzip: false }), url: server.url });
      sinks.push(sink);
      sink.start();
      await waitUntil(() => server.arrived.length === 2, 'two requests in flight');
      // The second is acknowledged, the first is not: nothing may be committed yet.
      await new Promise((r) => setTimeout(r, 100));
      expect(sink.stats()).toMatchObject({ written: 0, cursor: null });
      expect(sink.backlog()).toBe(4);
      await expect(readFile(path.join(stateDir, 'influx.cursor.json'))).rejects.toMatchObject({ code: 'ENOENT' });

      server.release(0);
      expect(await sink.drain()).toBe(true);
      expect(sink.stats()).toMatchObject({ written: 4, cursor: { segment: 'mem', offset: 4 } });
      expect(await storedCursor()).toEqual({ segment: 'mem', offset: 4 });
      expect(server.arrived.flat().sort()).toEqual(archive.records.flatMap(toLines).sort());
    } finally {
      await Promise.all(sinks.splice(0).map((s) => s.stop()));
      await server.close();
    }
  });
});
