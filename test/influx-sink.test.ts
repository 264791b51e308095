// InfluxSink mechanics against a scriptable v2 write endpoint on loopback: batching, cursor, outages, rejections, restarts.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { retryDelay } from '../collector/sinks/influx/backoff.js';
import { compareCursors, CursorFile } from '../collector/pipeline/cursor.js';
import { toLines } from '../collector/sinks/influx/line.js';
import { InfluxSink, type InfluxSinkOptions, type SinkLogger } from '../collector/sinks/influx/sink.js';
import { Wakeup } from '../collector/pipeline/wakeup.js';
import { InvalidArgumentError } from '../common/errors.js';
import { makeRecords, MemoryArchive } from './services/archive-records.js';
import { V2WriteRecorder } from './services/v2-write-recorder.js';

const START = Date.parse('2026-01-10T06:00:00.000Z');

class MemoryLogger implements SinkLogger {
  readonly messages: Array<{ level: 'info' | 'warn' | 'error'; message: string }> = [];
  info(message: string) {
    this.messages.push({ level: 'info', message });
  }
  warn(message: string) {
    this.messages.push({ level: 'warn', message });
  }
  error(message: string) {
    this.messages.push({ level: 'error', message });
  }
  at(level: 'info' | 'warn' | 'error'): string[] {
    return this.messages.filter((m) => m.level === level).map((m) => m.message);
  }
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let dir: string;
let recorder: V2WriteRecorder;
let archive: MemoryArchive;
let logger: MemoryLogger;
const sinks: InfluxSink[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-sink-'));
  recorder = await V2WriteRecorder.start();
  archive = new MemoryArchive();
  logger = new MemoryLogger();
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(sinks.splice(0).map((s) => s.stop()));
  await recorder.close();
  await rm(dir, { recursive: true, force: true });
});

function sink(options: Partial<InfluxSinkOptions> = {}): InfluxSink {
  const s = new InfluxSink({
    url: recorder.url,
    token: 'secret-token',
    org: 'ashyq',
    bucket: 'reachability',
    stateDir: dir,
    source: archive.source,
    logger,
    batchSize: 10,
    flushIntervalMs: 20,
    initialRetryDelayMs: 10,
    maxRetryDelayMs: 40,
    timeoutMs: 2000,
    ...options,
  });
  sinks.push(s);
  return s;
}

async function storedCursor(): Promise<unknown> {
  return JSON.parse(await readFile(path.join(dir, 'influx.cursor.json'), 'utf8'));
}

describe('InfluxSink', () => {
  it('writes every archived record once, in batches, with token, org, bucket and ns precision, and saves the cursor', async () => {
    archive.append(makeRecords(37, { startMs: START }));
    const s = sink();
    s.start();
    expect(await s.drain()).toBe(true);
    // Requests may be in flight at once (and arrive in any order); each one is a run of the archive in order.
    const expected = archive.records.flatMap(toLines);
    expect([...recorder.acknowledgedLines()].sort()).toEqual([...expected].sort());
    expect(recorder.acknowledgedLines()).toHaveLength(37);
    for (const w of recorder.writes) {
      const at = expected.indexOf(w.lines[0]!);
      expect(w.lines).toEqual(expected.slice(at, at + w.lines.length));
      expect(w.lines.length).toBeLessThanOrEqual(10);
      expect(w).toMatchObject({ org: 'ashyq', bucket: 'reachability', precision: 'ns', authorization: 'Token secret-token' });
    }
    expect(await storedCursor()).toEqual({ segment: 'mem', offset: 37 });
    expect(s.stats()).toMatchObject({ written: 37, rejected: 0, failedAttempts: 0, lastError: null, cursor: { segment: 'mem', offset: 37 } });
  });

  it('follows the archive as it grows: notify() wakes it, polling finds what nobody announced', async () => {
    const s = sink({ flushIntervalMs: 200 });
    s.start();
    archive.append(makeRecords(5, { startMs: START }));
    s.notify();
    await waitUntil(() => recorder.acknowledgedLines().length === 5, 'notified records');
    archive.append(makeRecords(3, { startMs: START }, 5)); // no notify: the poll finds them
    await waitUntil(() => recorder.acknowledgedLines().length === 8, 'polled records', 5000);
    expect(await s.drain()).toBe(true);
    expect(s.backlog()).toBe(0);
    expect(recorder.acknowledgedLines()).toEqual(archive.records.flatMap(toLines));
  });

  it('waits up to flushIntervalMs to fill a batch instead of sending every record alone', async () => {
    const s = sink({ batchSize: 50, flushIntervalMs: 300 });
    s.start();
    for (let i = 0; i < 20; i++) {
      archive.append(makeRecords(1, { startMs: START }, i));
      s.notify();
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitUntil(() => recorder.acknowledgedLines().length === 20, 'coalesced records');
    expect(recorder.writes.length).toBeLessThanOrEqual(3);
  });

  it('keeps the cursor and every record through an outage of refused connections, and counts the backlog exactly', async () => {
    archive.append(makeRecords(12, { startMs: START }));
    const s = sink({ maxQueuedRecords: 10 });
    s.start();
    expect(await s.drain()).toBe(true);
    await recorder.close(); // the server goes away: connections are refused

    archive.append(makeRecords(57, { startMs: START }, 12));
    s.notify();
    await waitUntil(() => s.backlog() === 57 && s.stats().failedAttempts >= 3, 'backlog counted during the outage');
    expect(await storedCursor()).toEqual({ segment: 'mem', offset: 12 });
    expect(s.stats().lastError).toMatch(/ECONNREFUSED/);
    expect(s.stats().failingSince).not.toBeNull();
    expect(logger.at('warn').filter((m) => m.includes('retrying'))).toHaveLength(1); // once per outage, not per attempt

    archive.append(makeRecords(8, { startMs: START }, 69)); // more arrive while it is down
    s.notify();
    await waitUntil(() => s.backlog() === 65, 'backlog grows during the outage');

    await recorder.listen();
    expect(await s.drain()).toBe(true);
    const written = recorder.acknowledgedLines();
    const expected = archive.records.flatMap(toLines);
    expect(new Set(written)).toEqual(new Set(expected));
    expect(written).toHaveLength(expected.length); // refused connections acknowledged nothing: no duplicates
    expect(await storedCursor()).toEqual({ segment: 'mem', offset: 77 });
    expect(s.stats()).toMatchObject({ written: 77, lastError: null, failingSince: null });
    expect(logger.at('info').some((m) => m.includes('work again'))).toBe(true);
  });

  it('retries 5xx and 429 answers and 401/403/404 (an operator can fix those) without losing or skipping records', async () => {
    archive.append(makeRecords(10, { startMs: START }));
    const answers = [503, 429, 500, 401, 403, 404];
    recorder.script = (_w, i) => ({ status: answers[i] ?? 204, body: '{"code":"x","message":"not now"}' });
    const s = sink();
    s.start();
    expect(await s.drain()).toBe(true);
    expect(recorder.writes.map((w) => w.status)).toEqual([...answers, 204]);
    expect(recorder.acknowledgedLines()).toEqual(archive.records.flatMap(toLines));
    expect(s.stats()).toMatchObject({ written: 10, rejected: 0, failedAttempts: 6 });
  });

  it('isolates a point the server refuses as data by halving the batch, skips only it and logs why', async () => {
    const records = makeRecords(10, { startMs: START });
    records[6]!.measurement.target.id = 'poison';
    archive.append(records);
    recorder.script = (w) =>
      w.lines.some((l) => l.includes('target=poison'))
        ? { status: 400, body: '{"code":"invalid","message":"partial write: field type conflict"}' }
        : { status: 204 };
    const s = sink();
    s.start();
    expect(await s.drain()).toBe(true);
    const expected = records.flatMap(toLines).filter((l) => !l.includes('target=poison'));
    expect(new Set(recorder.acknowledgedLines())).toEqual(new Set(expected));
    expect(s.stats()).toMatchObject({ written: 10, rejected: 1 });
    expect(logger.at('error').some((m) => m.includes('field type conflict') && m.includes('target=poison'))).toBe(true);
    expect(await storedCursor()).toEqual({ segment: 'mem', offset: 10 });
  });

  it('skips and counts a record it cannot convert, without stalling', async () => {
    const records = makeRecords(4, { startMs: START });
    records[1]!.measurement.started_at = 'not a time';
    archive.append(records);
    const s = sink();
    s.start();
    expect(await s.drain()).toBe(true);
    expect(recorder.acknowledgedLines()).toHaveLength(3);
    expect(s.stats()).toMatchObject({ written: 4, unconvertible: 1 });
  });

  it('resumes from the persisted cursor after a restart and sends nothing twice', async () => {
    archive.append(makeRecords(15, { startMs: START }));
    const first = sink();
    first.start();
    expect(await first.drain()).toBe(true);
    await first.stop();
    const before = recorder.writes.length;
    const opens = archive.opens;

    archive.append(makeRecords(6, { startMs: START }, 15));
    const second = sink();
    second.start();
    expect(await second.drain()).toBe(true);
    expect(recorder.acknowledgedLines()).toHaveLength(21);
    expect(recorder.writes.slice(before).flatMap((w) => w.lines)).toEqual(archive.records.slice(15).flatMap(toLines));
    expect(archive.opens).toBeGreaterThan(opens);
    expect(await storedCursor()).toEqual({ segment: 'mem', offset: 21 });
  });

  it('replays byte-identical points when the cursor is behind (acknowledged but not saved), so the server overwrites them', async () => {
    archive.append(makeRecords(8, { startMs: START }));
    const first = sink();
    first.start();
    expect(await first.drain()).toBe(true);
    await first.stop();
    // As after a crash between the server's acknowledgement and the cursor's rename.
    await writeFile(path.join(dir, 'influx.cursor.json'), JSON.stringify({ segment: 'mem', offset: 3 }));
    const second = sink();
    second.start();
    expect(await second.drain()).toBe(true);
    const lines = recorder.acknowledgedLines();
    expect(lines.slice(8)).toEqual(lines.slice(3, 8));
  });

  it('starts from the beginning, with a warning, when the cursor file is unreadable', async () => {
    await writeFile(path.join(dir, 'influx.cursor.json'), '{"segment": 3');
    archive.append(makeRecords(4, { startMs: START }));
    const s = sink();
    s.start();
    expect(await s.drain()).toBe(true);
    expect(recorder.acknowledgedLines()).toHaveLength(4);
    expect(logger.at('warn').some((m) => m.includes('unreadable'))).toBe(true);
    expect(await storedCursor()).toEqual({ segment: 'mem', offset: 4 });
  });

  it('stops promptly during an outage, leaving the cursor where the server last acknowledged', async () => {
    await recorder.close();
    archive.append(makeRecords(5, { startMs: START }));
    const s = sink({ initialRetryDelayMs: 5000, maxRetryDelayMs: 60_000 });
    s.start();
    await waitUntil(() => s.stats().failedAttempts >= 1, 'first failure');
    const t0 = Date.now();
    await s.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(readFile(path.join(dir, 'influx.cursor.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(s.backlog()).toBe(5);
  });

  it('spaces retries by exponential backoff with jitter up to the cap (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    archive.append(makeRecords(3, { startMs: START }));
    recorder.script = (_w, i) => ({ status: i < 7 ? 503 : 204 });
    const s = sink({
      batchSize: 3,
      flushIntervalMs: 3_600_000, // keep poll timers out of the way
      initialRetryDelayMs: 100,
      maxRetryDelayMs: 1000,
      random: () => 0.5,
      clock: { now: () => Date.now(), monotonic: () => Date.now() },
    });
    s.start();
    // Real I/O (the loopback request, the cursor file) goes on between fake-timer steps: wait for it
    // by the wall clock, which fake timers leave alone (performance.now is not faked).
    const ioSettled = async (done: () => boolean) => {
      const deadline = performance.now() + 10_000;
      while (!done() && performance.now() < deadline) await new Promise((r) => setImmediate(r));
    };
    const settle = async (count: number) => {
      await ioSettled(() => recorder.writes.length >= count);
      expect(recorder.writes.length).toBe(count);
    };
    await settle(1);
    for (let n = 2; n <= 8; n++) {
      await vi.advanceTimersToNextTimerAsync();
      await settle(n);
    }
    const gaps = recorder.writes.slice(1).map((w, i) => w.at - recorder.writes[i]!.at);
    // step = min(1000, 100·2^(k-1)); with random 0.5 the delay is 3/4 of the step.
    expect(gaps).toEqual([75, 150, 300, 600, 750, 750, 750]);
    await vi.advanceTimersByTimeAsync(10);
    await ioSettled(() => s.backlog() === 0);
    expect(s.backlog()).toBe(0);
  });

  it('honours a Retry-After longer than its own delay (up to the cap)', async () => {
    archive.append(makeRecords(2, { startMs: START }));
    recorder.script = (_w, i) => ({ status: i === 0 ? 503 : 204, retryAfter: 1 });
    const s = sink({ batchSize: 2, initialRetryDelayMs: 10, maxRetryDelayMs: 5000 });
    s.start();
    expect(await s.drain()).toBe(true);
    expect(recorder.writes[1]!.at - recorder.writes[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('refuses bad options', () => {
    expect(() => sink({ batchSize: 0 })).toThrow(InvalidArgumentError);
    expect(() => sink({ url: '' })).toThrow(InvalidArgumentError);
  });
});

describe('retryDelay', () => {
  const opts = { initialMs: 100, maxMs: 1000, factor: 2 };
  it('grows exponentially, is capped, and jitters within [step/2, step]', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map((a) => retryDelay(a, { ...opts, random: () => 0 }))).toEqual([50, 100, 200, 400, 500, 500, 500]);
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelay(a, { ...opts, random: () => 0.999999 }))).toEqual([100, 200, 400, 800, 1000, 1000]);
    for (let a = 1; a < 30; a++) {
      const d = retryDelay(a, { ...opts, random: Math.random });
      expect(d).toBeGreaterThanOrEqual(Math.min(1000, 100 * 2 ** (a - 1)) / 2);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
  it('refuses nonsense', () => {
    expect(() => retryDelay(0, { ...opts, random: Math.random })).toThrow(InvalidArgumentError);
    expect(() => retryDelay(1, { ...opts, maxMs: 10, random: Math.random })).toThrow(InvalidArgumentError);
  });
});

describe('CursorFile', () => {
  it('saves atomically and loads what it saved; orders cursors by day then offset', async () => {
    const file = new CursorFile(path.join(dir, 'state'), 'influx');
    expect(await file.load()).toEqual({ kind: 'none' });
    await file.save({ segment: '2026-01-10', offset: 1234 });
    expect(await file.load()).toEqual({ kind: 'cursor', cursor: { segment: '2026-01-10', offset: 1234 } });
    await writeFile(file.file, '[]');
    expect((await file.load()).kind).toBe('unreadable');
    expect(compareCursors({ segment: '2026-01-09', offset: 900 }, { segment: '2026-01-10', offset: 1 })).toBeLessThan(0);
    expect(compareCursors({ segment: '2026-01-10', offset: 5 }, { segment: '2026-01-10', offset: 1 })).toBeGreaterThan(0);
  });
});

describe('Wakeup', () => {
  it('keeps a signal given before the wait, and times out without one', async () => {
    const w = new Wakeup();
    w.signal();
    expect(await w.wait(10_000)).toBe(true);
    expect(await w.wait(5)).toBe(false);
    setTimeout(() => w.signal(), 5);
    expect(await w.wait(10_000)).toBe(true);
  });
});
