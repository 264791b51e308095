// The durable spool: append/pending/ack, durability across reopen, torn tails, corrupt records, the disk cap.
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../common/errors.js';
import type { Measurement } from '../contract/measurement.js';
import { encodeFrame, FRAME_HEADER_BYTES } from '../probe/spool/frame.js';
import { CORRUPT_DIR, MIN_CAP_BYTES, Spool } from '../probe/spool/spool.js';
import { parseState, STATE_FILE } from '../probe/spool/state.js';
import { ManualClock, T0 } from './fixtures/spool/clock.js';
import { spoolMeasurement } from './fixtures/spool/measurement.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'spool');
const BIG_CAP = 64 * 1024 * 1024;

let dir: string;
let clock: ManualClock;
const open: Spool[] = [];

beforeEach(async () => {
  dir = path.join(await mkdtemp(path.join(os.tmpdir(), 'ashyq-spool-')), 'spool');
  clock = new ManualClock(T0);
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  await rm(path.dirname(dir), { recursive: true, force: true });
});

async function openSpool(options: { capBytes?: number; segmentBytes?: number } = {}): Promise<Spool> {
  const spool = await Spool.open(dir, { capBytes: options.capBytes ?? BIG_CAP, clock, ...(options.segmentBytes !== undefined ? { segmentBytes: options.segmentBytes } : {}) });
  open.push(spool);
  return spool;
}

async function reopen(spool: Spool, options: { capBytes?: number; segmentBytes?: number } = {}): Promise<Spool> {
  await spool.close();
  return openSpool(options);
}

/** Measurements one second apart, in order. */
function batch(n: number, bodyBytes = 0): Measurement[] {
  return Array.from({ length: n }, () => {
    clock.advance(1000);
    return spoolMeasurement({ at: clock.now(), bodyBytes });
  });
}

async function appendAll(spool: Spool, ms: Measurement[]): Promise<void> {
  for (const m of ms) await spool.append(m);
}

async function files(suffix: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith(suffix)).sort();
}

async function corruptFiles(): Promise<string[]> {
  return (await readdir(path.join(dir, CORRUPT_DIR))).sort();
}

const ids = (ms: Measurement[]) => ms.map((m) => m.id);

/** Every pending id, oldest first. */
async function pendingIds(spool: Spool): Promise<string[]> {
  return ids(await spool.pending(1_000_000));
}

/** Byte size of one framed record of `m`. */
function frameSize(m: Measurement): number {
  return FRAME_HEADER_BYTES + Buffer.byteLength(JSON.stringify(m));
}

describe('Spool basics', () => {
  it('creates its directory 0700 and files 0600, and hands measurements back oldest first, unchanged', async () => {
    const spool = await openSpool();
    const ms = batch(5);
    await appendAll(spool, ms);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const [segment] = await files('.seg');
    expect((await stat(path.join(dir, segment!))).mode & 0o777).toBe(0o600);
    expect(await spool.pending(3)).toEqual(ms.slice(0, 3));
    expect(await spool.pending(100)).toEqual(ms);
    expect(await spool.pending(0)).toEqual([]);
    expect(spool.stats()).toEqual({
      count: 5,
      bytes: ms.reduce((n, m) => n + frameSize(m), 0),
      capBytes: BIG_CAP,
      dropped: 0,
      firstDroppedAt: null,
      lastDroppedAt: null,
      setAside: 0,
    });
    expect(spool.setAside).toEqual([]);
  });

  it('removes acknowledged ids, ignores unknown ones, and an id appended twice is stored once', async () => {
    const spool = await openSpool();
    const ms = batch(6);
    await appendAll(spool, ms);
    const bytes = spool.stats().bytes;
    await spool.append(ms[2]!);
    expect(spool.stats()).toMatchObject({ count: 6, bytes });
    await spool.ack([ms[1]!.id, ms[4]!.id, 'NOT-A-PENDING-ID', ms[1]!.id]);
    expect(await pendingIds(spool)).toEqual(ids([ms[0]!, ms[2]!, ms[3]!, ms[5]!]));
    expect(spool.stats().count).toBe(4);
    await spool.ack(ids(ms));
    expect(await pendingIds(spool)).toEqual([]);
    expect(spool.stats()).toMatchObject({ count: 0, bytes: 0 });
    expect(await files('.seg')).toEqual([]);
    expect(await files('.ack')).toEqual([]);
  });

  it('keeps pending records and acknowledgements across close and reopen', async () => {
    let spool = await openSpool();
    const ms = batch(10);
    await appendAll(spool, ms);
    await spool.ack([ms[0]!.id, ms[3]!.id]);
    await spool.ack([ms[7]!.id]);
    expect(await files('.ack')).toHaveLength(1);
    spool = await reopen(spool);
    const left = ms.filter((_, i) => ![0, 3, 7].includes(i));
    expect(await pendingIds(spool)).toEqual(ids(left));
    expect(spool.setAside).toEqual([]);
    // New records go after the old ones, in a new segment.
    const more = batch(2);
    await appendAll(spool, more);
    expect(await files('.seg')).toHaveLength(2);
    spool = await reopen(spool);
    expect(await pendingIds(spool)).toEqual(ids([...left, ...more]));
    await spool.ack(ids(left));
    expect(await files('.seg')).toHaveLength(1);
    expect(await pendingIds(spool)).toEqual(ids(more));
  });

  it('starts new segments by size and deletes each one when all its records are acknowledged', async () => {
    const ms = batch(9);
    const size = frameSize(ms[0]!);
    let spool = await openSpool({ segmentBytes: size * 3 });
    await appendAll(spool, ms);
    expect(await files('.seg')).toHaveLength(3);
    await spool.ack(ids(ms.slice(0, 3)));
    expect(await files('.seg')).toHaveLength(2);
    await spool.ack([ms[4]!.id]);
    spool = await reopen(spool, { segmentBytes: size * 3 });
    expect(await pendingIds(spool)).toEqual(ids([ms[3]!, ...ms.slice(5)]));
    await spool.ack(ids(ms));
    expect(await readdir(dir)).toEqual([CORRUPT_DIR]);
  });

  it('serialises appends and acks issued concurrently', async () => {
    const ms = batch(60);
    let spool = await openSpool({ segmentBytes: frameSize(ms[0]!) * 4 });
    const acked = new Set<string>();
    const work: Promise<void>[] = [];
    for (let i = 0; i < ms.length; i++) {
      work.push(spool.append(ms[i]!));
      if (i % 5 === 4) {
        const chunk = [ms[i - 4]!.id, ms[i - 2]!.id];
        chunk.forEach((id) => acked.add(id));
        work.push(spool.ack(chunk));
      }
      if (i % 7 === 0) work.push(spool.pending(3).then(() => undefined));
    }
    await Promise.all(work);
    const expected = ids(ms).filter((id) => !acked.has(id));
    expect(await pendingIds(spool)).toEqual(expected);
    spool = await reopen(spool);
    expect(await pendingIds(spool)).toEqual(expected);
  });

  it('rejects misuse: a bad cap, a measurement without id, use after close', async () => {
    await expect(Spool.open(dir, { capBytes: MIN_CAP_BYTES - 1, clock })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(Spool.open(dir, { capBytes: MIN_CAP_BYTES, segmentBytes: MIN_CAP_BYTES + 1, clock })).rejects.toBeInstanceOf(InvalidArgumentError);
    const spool = await openSpool();
    await expect(spool.append({ ...batch(1)[0]!, id: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(spool.pending(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await spool.close();
    await expect(spool.append(batch(1)[0]!)).rejects.toThrow(/closed/);
    await expect(spool.pending(1)).rejects.toThrow(/closed/);
    await expect(spool.ack([])).rejects.toThrow(/closed/);
    await spool.close();
  });
});

describe('Spool recovery at open', () => {
  it('sets a torn tail aside, keeps every complete record, and appends cleanly afterwards', async () => {
    let spool = await openSpool();
    const ms = batch(5);
    await appendAll(spool, ms);
    await spool.close();
    const [segment] = await files('.seg');
    const file = path.join(dir, segment!);
    const before = await readFile(file);
    const lastSize = frameSize(ms[4]!);
    const cut = before.length - Math.floor(lastSize / 2);
    await truncate(file, cut);

    spool = await openSpool();
    expect(await pendingIds(spool)).toEqual(ids(ms.slice(0, 4)));
    expect(spool.setAside).toHaveLength(1);
    const [aside] = spool.setAside;
    expect(aside!.reason).toMatch(/torn tail: truncated payload/);
    expect(aside!.bytes).toBe(cut - (before.length - lastSize));
    expect(await readFile(aside!.file)).toEqual(before.subarray(before.length - lastSize, cut));
    expect(path.dirname(aside!.file)).toBe(path.join(dir, CORRUPT_DIR));
    expect((await stat(file)).size).toBe(before.length - lastSize);
    expect(spool.stats().setAside).toBe(1);

    const more = batch(2);
    await appendAll(spool, more);
    spool = await reopen(spool);
    expect(spool.setAside).toEqual([]);
    expect(spool.stats().setAside).toBe(1); // still in corrupt/ for a human to look at
    expect(await pendingIds(spool)).toEqual(ids([...ms.slice(0, 4), ...more]));
  });

  it('a header cut short and a zero-filled tail are torn tails too', async () => {
    let spool = await openSpool();
    const ms = batch(3);
    await appendAll(spool, ms);
    await spool.close();
    const [segment] = await files('.seg');
    const file = path.join(dir, segment!);
    const size = (await stat(file)).size;
    await truncate(file, size - frameSize(ms[2]!) + 5);
    spool = await openSpool();
    expect(spool.setAside.map((s) => s.reason)).toEqual([expect.stringMatching(/torn tail: truncated header \(5 of 12 bytes\)/)]);
    expect(await pendingIds(spool)).toEqual(ids(ms.slice(0, 2)));
    await spool.close();

    await appendFile(path.join(dir, (await files('.seg'))[0]!), Buffer.alloc(8192));
    spool = await openSpool();
    expect(spool.setAside).toMatchObject([{ bytes: 8192, reason: expect.stringMatching(/torn tail: bad magic/) }]);
    expect(await pendingIds(spool)).toEqual(ids(ms.slice(0, 2)));
  });

  it('sets a corrupt record in the middle aside and still delivers the records after it', async () => {
    let spool = await openSpool();
    const ms = batch(5);
    await appendAll(spool, ms);
    await spool.ack([ms[3]!.id]);
    await spool.close();
    const [segment] = await files('.seg');
    const file = path.join(dir, segment!);
    const original = await readFile(file);
    const start = frameSize(ms[0]!) + frameSize(ms[1]!);
    const damaged = Buffer.from(original);
    damaged[start + FRAME_HEADER_BYTES + 40]! ^= 0x04; // one bit flipped inside record 3's JSON
    await writeFile(file, damaged);

    spool = await openSpool();
    expect(await pendingIds(spool)).toEqual(ids([ms[0]!, ms[1]!, ms[4]!]));
    expect(spool.setAside).toHaveLength(1);
    expect(spool.setAside[0]!.reason).toMatch(/corrupt record: checksum mismatch/);
    expect(await readFile(spool.setAside[0]!.file)).toEqual(damaged.subarray(start, start + frameSize(ms[2]!)));
    // The segment was rewritten with the live records only; its ack log is no longer needed.
    expect(await files('.ack')).toEqual([]);
    expect((await stat(file)).size).toBe(frameSize(ms[0]!) + frameSize(ms[1]!) + frameSize(ms[4]!));
    expect(await spool.pending(10)).toEqual([ms[0], ms[1], ms[4]]);

    spool = await reopen(spool);
    expect(spool.setAside).toEqual([]);
    expect(await pendingIds(spool)).toEqual(ids([ms[0]!, ms[1]!, ms[4]!]));
    await spool.ack([ms[1]!.id]);
    spool = await reopen(spool);
    expect(await pendingIds(spool)).toEqual(ids([ms[0]!, ms[4]!]));
  });

  it('a corrupt length field in the middle loses only that record', async () => {
    let spool = await openSpool();
    const ms = batch(4);
    await appendAll(spool, ms);
    await spool.close();
    const file = path.join(dir, (await files('.seg'))[0]!);
    const damaged = await readFile(file);
    damaged.writeUInt32BE(3, frameSize(ms[0]!) + 4);
    await writeFile(file, damaged);
    spool = await openSpool();
    expect(await pendingIds(spool)).toEqual(ids([ms[0]!, ms[2]!, ms[3]!]));
    expect(spool.setAside.map((s) => s.reason)).toEqual([expect.stringMatching(/checksum mismatch/)]);
  });

  it('a well-framed record that is not a measurement, or an ack record that is not a list of ids, is set aside', async () => {
    let spool = await openSpool();
    const ms = batch(4);
    await appendAll(spool, ms.slice(0, 2));
    await spool.ack([ms[0]!.id]);
    await spool.close();
    const seg = path.join(dir, (await files('.seg'))[0]!);
    const ack = path.join(dir, (await files('.ack'))[0]!);
    const stranger = encodeFrame(Buffer.from('{"no":"id"}'));
    await appendFile(seg, Buffer.concat([stranger, encodeFrame(Buffer.from(JSON.stringify(ms[2])))]));
    await appendFile(ack, encodeFrame(Buffer.from('{"ids":["x"]}')));
    spool = await openSpool();
    expect(await pendingIds(spool)).toEqual(ids([ms[1]!, ms[2]!]));
    expect(spool.setAside.map((s) => s.reason).sort()).toEqual([
      expect.stringMatching(/\.ack at byte \d+: corrupt ack record: ack record is not a list of ids/),
      expect.stringMatching(/\.seg at byte \d+: corrupt record: record is not a measurement/),
    ]);
    expect(await readFile(spool.setAside.find((s) => s.reason.includes('.seg'))!.file)).toEqual(stranger);
  });

  it('a torn ack log keeps its complete acknowledgements; the torn one leaves its ids pending', async () => {
    let spool = await openSpool();
    const ms = batch(6);
    await appendAll(spool, ms);
    await spool.ack([ms[0]!.id, ms[1]!.id]);
    await spool.ack([ms[2]!.id, ms[3]!.id]);
    await spool.close();
    const ack = path.join(dir, (await files('.ack'))[0]!);
    await truncate(ack, (await stat(ack)).size - 3);
    spool = await openSpool();
    expect(await pendingIds(spool)).toEqual(ids(ms.slice(2)));
    expect(spool.setAside.map((s) => s.reason)).toEqual([expect.stringMatching(/\.ack at byte \d+: torn tail/)]);
    spool = await reopen(spool);
    expect(spool.setAside).toEqual([]);
    expect(await pendingIds(spool)).toEqual(ids(ms.slice(2)));
  });

  it('removes temp files and ack logs without a segment, and sets an unreadable state file aside', async () => {
    let spool = await openSpool();
    await appendAll(spool, batch(1));
    await spool.close();
    await writeFile(path.join(dir, 'state.json.tmp'), 'half');
    await writeFile(path.join(dir, 'seg-000000000099.ack'), 'x');
    await writeFile(path.join(dir, STATE_FILE), '{"version":1,"dropp');
    spool = await openSpool();
    const names = await readdir(dir);
    expect(names).not.toContain('state.json.tmp');
    expect(names).not.toContain('seg-000000000099.ack');
    expect(spool.setAside.map((s) => s.reason)).toEqual([expect.stringMatching(/state\.json at byte 0: state file unusable/)]);
    expect(spool.stats()).toMatchObject({ count: 1, dropped: 0 });
    expect(parseState(await readFile(path.join(dir, STATE_FILE), 'utf8'))).toMatchObject({ dropped: 0 });
  });

  it('opens a spool written by this format version (fixture)', async () => {
    // seg 1: three records, the second acknowledged in its ack log; seg 2: one record, then a torn
    // tail (the first 40 bytes of a frame); state.json: two records dropped an hour before.
    await cp(path.join(FIXTURES, 'v1'), dir, { recursive: true });
    const spool = await openSpool();
    const pending = await spool.pending(10);
    expect(pending.map((m) => [m.id, m.target.id, m.verdict.verdict])).toEqual([
      ['01HXDA9V40SP00000000000001', 'youtube', 'tls.reset'],
      ['01HXDA9V40SP00000000000003', 'telegram', 'tls.reset'],
      ['01HXDA9V40SP00000000000004', 'facebook', 'tls.reset'],
    ]);
    expect(spool.setAside).toMatchObject([{ bytes: 40, reason: expect.stringMatching(/seg-000000000002\.seg at byte \d+: torn tail/) }]);
    const hourBefore = new Date(T0 - 3_600_000).toISOString();
    expect(spool.stats()).toMatchObject({ count: 3, dropped: 2, firstDroppedAt: hourBefore, lastDroppedAt: hourBefore, setAside: 1 });
    expect(spool.takeOverflow()).toEqual({ dropped: 2, firstDroppedAt: hourBefore, lastDroppedAt: hourBefore });
  });
});

describe('Spool disk cap', () => {
  it('drops whole oldest segments, counts the records, and never goes over the cap', async () => {
    const ms = batch(40);
    const size = frameSize(ms[0]!);
    const cap = MIN_CAP_BYTES;
    const perSegment = 2;
    let spool = await openSpool({ capBytes: cap, segmentBytes: size * perSegment });
    for (const m of ms) {
      clock.advance(60_000);
      await spool.append(m);
      expect(spool.stats().bytes).toBeLessThanOrEqual(cap);
    }
    const kept = await pendingIds(spool);
    const { dropped } = spool.stats();
    expect(dropped + kept.length).toBe(ms.length);
    expect(dropped % perSegment).toBe(0); // whole segments
    expect(dropped).toBeGreaterThan(0);
    expect(kept).toEqual(ids(ms.slice(dropped))); // the newest survive, in order
    expect(kept.length * size).toBeGreaterThan(cap - perSegment * size - size);

    const overflow = spool.takeOverflow();
    expect(overflow).not.toBeNull();
    expect(overflow!.dropped).toBe(dropped);
    expect(Date.parse(overflow!.firstDroppedAt)).toBeGreaterThan(T0);
    expect(Date.parse(overflow!.lastDroppedAt)).toBeGreaterThanOrEqual(Date.parse(overflow!.firstDroppedAt));
    expect(spool.stats()).toMatchObject({ firstDroppedAt: overflow!.firstDroppedAt, lastDroppedAt: overflow!.lastDroppedAt });

    // The counts survive a restart; reporting clears the unreported part only.
    spool = await reopen(spool, { capBytes: cap, segmentBytes: size * perSegment });
    expect(spool.takeOverflow()).toEqual(overflow);
    await spool.confirmOverflowReported(overflow!.dropped);
    expect(spool.takeOverflow()).toBeNull();
    spool = await reopen(spool, { capBytes: cap, segmentBytes: size * perSegment });
    expect(spool.takeOverflow()).toBeNull();
    expect(spool.stats().dropped).toBe(dropped);
  });

  it('acknowledged records are not counted as dropped', async () => {
    const ms = batch(12);
    const size = frameSize(ms[0]!);
    const spool = await openSpool({ capBytes: MIN_CAP_BYTES, segmentBytes: size * 3 });
    await appendAll(spool, ms.slice(0, 3));
    await spool.ack([ms[0]!.id, ms[2]!.id]); // segment 1 keeps one pending record
    await appendAll(spool, ms.slice(3));
    const dropped = spool.stats().dropped;
    const pending = await pendingIds(spool);
    expect(pending).not.toContain(ms[1]!.id);
    // ms[1] plus whole later segments went; the two acknowledged ones are not in the count.
    expect(dropped + pending.length).toBe(ms.length - 2);
  });

  it('a measurement larger than the whole cap is dropped and counted, the others kept', async () => {
    const spool = await openSpool({ capBytes: MIN_CAP_BYTES });
    const [small] = batch(1);
    const [huge] = batch(1, MIN_CAP_BYTES);
    await spool.append(small!);
    await spool.append(huge!);
    expect(await pendingIds(spool)).toEqual([small!.id]);
    expect(spool.stats().dropped).toBe(1);
    expect(spool.takeOverflow()).toEqual({ dropped: 1, firstDroppedAt: new Date(clock.now()).toISOString(), lastDroppedAt: new Date(clock.now()).toISOString() });
  });

  it('a drop interrupted by a crash is finished at open without counting twice', async () => {
    const ms = batch(6);
    const size = frameSize(ms[0]!);
    let spool = await openSpool({ segmentBytes: size * 3 });
    await appendAll(spool, ms);
    await spool.close();
    // What dropOldest leaves if the power goes right after counting segment 1: the count is
    // durable and the segment marked, but its file is still there.
    const at = new Date(clock.now()).toISOString();
    await writeFile(
      path.join(dir, STATE_FILE),
      JSON.stringify({ version: 1, dropped: 3, first_dropped_at: at, last_dropped_at: at, unreported: [{ at, count: 3 }], dropping: [1] }),
    );
    spool = await openSpool({ segmentBytes: size * 3 });
    expect(await pendingIds(spool)).toEqual(ids(ms.slice(3)));
    expect(spool.stats().dropped).toBe(3);
    expect(await files('.seg')).toEqual(['seg-000000000002.seg']);
    expect(parseState(await readFile(path.join(dir, STATE_FILE), 'utf8'))).toMatchObject({ dropped: 3, dropping: [] });
  });

  it('confirming part of the overflow keeps drops that happened after the report was taken', async () => {
    const ms = batch(30);
    const size = frameSize(ms[0]!);
    const spool = await openSpool({ capBytes: MIN_CAP_BYTES, segmentBytes: size * 2 });
    await appendAll(spool, ms.slice(0, 15));
    const taken = spool.takeOverflow()!;
    clock.advance(3_600_000);
    await appendAll(spool, ms.slice(15));
    const total = spool.stats().dropped;
    expect(total).toBeGreaterThan(taken.dropped);
    await spool.confirmOverflowReported(taken.dropped);
    const rest = spool.takeOverflow()!;
    expect(rest.dropped).toBe(total - taken.dropped);
    expect(Date.parse(rest.firstDroppedAt)).toBeGreaterThan(Date.parse(taken.lastDroppedAt));
  });
});

describe('Spool reading', () => {
  it('a record damaged on disk after open is set aside when read, and the others are still handed out', async () => {
    const spool = await openSpool();
    const ms = batch(4);
    await appendAll(spool, ms);
    const file = path.join(dir, (await files('.seg'))[0]!);
    const bytes = await readFile(file);
    bytes[frameSize(ms[0]!) + FRAME_HEADER_BYTES + 10]! ^= 0x01;
    await writeFile(file, bytes);
    expect(ids(await spool.pending(3))).toEqual(ids([ms[0]!, ms[2]!, ms[3]!]));
    expect(spool.setAside.map((s) => s.reason)).toEqual([expect.stringMatching(/record no longer reads back: checksum mismatch/)]);
    expect(await corruptFiles()).toHaveLength(1);
    expect(spool.stats().count).toBe(3);
  });

  it('Spool.inspect reports what the owner sees and changes nothing, torn tail included', async () => {
    expect(await Spool.inspect(dir, { capBytes: BIG_CAP })).toMatchObject({ count: 0, bytes: 0, dropped: 0, setAside: 0 });
    expect(existsSync(dir)).toBe(false);
    const ms = batch(5);
    let spool = await openSpool({ segmentBytes: frameSize(ms[0]!) * 2 });
    await appendAll(spool, ms);
    await spool.ack([ms[0]!.id, ms[2]!.id]);
    expect(await Spool.inspect(dir, { capBytes: BIG_CAP })).toEqual(spool.stats());
    await spool.close();
    const last = path.join(dir, (await files('.seg')).at(-1)!);
    await truncate(last, (await stat(last)).size - 7);
    const listing = async () => Promise.all((await readdir(dir)).map(async (n) => [n, (await stat(path.join(dir, n))).size]));
    const before = await listing();
    const seen = await Spool.inspect(dir, { capBytes: BIG_CAP });
    expect(await listing()).toEqual(before);
    expect(seen.count).toBe(2);
    spool = await openSpool({ segmentBytes: frameSize(ms[0]!) * 2 });
    expect(spool.stats().count).toBe(2);
  });
});
