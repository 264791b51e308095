// The durable archive: append and read with cursors, daily segments gzipped at day close, torn tails cut at open.
import { appendFile, open, readdir, readFile, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Archive, type ArchiveCursor, type ArchivedRecord } from '../collector/storage/archive.js';
import { makeMeasurement, ManualClock, T0, tempDir } from './fixtures/collector/helpers.js';

let dir: string;
let clock: ManualClock;

beforeEach(async () => {
  dir = await tempDir('ashyq-archive-');
  clock = new ManualClock(T0);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function record(at: number, receivedAt = at): ArchivedRecord {
  return {
    received_at: new Date(receivedAt).toISOString(),
    probe_id: 'probe-0001',
    asn: 9198,
    cc: 'KZ',
    network: 'JSC Kazakhtelecom',
    measurement: makeMeasurement({ probeId: 'probe-0001', at }),
  };
}

async function readAll(archive: Archive, from?: ArchiveCursor): Promise<Array<{ id: string; next: ArchiveCursor }>> {
  const out: Array<{ id: string; next: ArchiveCursor }> = [];
  for await (const { record: r, next } of archive.read(from)) out.push({ id: r.measurement.id, next });
  return out;
}

describe('Archive', () => {
  it('appends JSON lines to the day of receipt and reads them back with byte cursors', async () => {
    const archive = await Archive.open(dir, clock);
    const a = [record(T0), record(T0 + 1)];
    const b = [record(T0 + 2)];
    await archive.append(a);
    await archive.append(b);
    const file = path.join(dir, '2024-05-09.jsonl');
    const text = await readFile(file, 'utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as ArchivedRecord).measurement.id)).toEqual([...a, ...b].map((r) => r.measurement.id));
    expect(Object.keys(JSON.parse(lines[0]!) as object)).toEqual(['received_at', 'probe_id', 'asn', 'cc', 'network', 'measurement']);
    expect(archive.position()).toEqual({ segment: '2024-05-09', offset: Buffer.byteLength(text) });

    const all = await readAll(archive);
    expect(all.map((x) => x.id)).toEqual([...a, ...b].map((r) => r.measurement.id));
    expect(all[0]!.next).toEqual({ segment: '2024-05-09', offset: Buffer.byteLength(lines[0]!) + 1 });
    // Resume after the first record.
    expect((await readAll(archive, all[0]!.next)).map((x) => x.id)).toEqual(all.slice(1).map((x) => x.id));
    expect(await readAll(archive, all[2]!.next)).toEqual([]);
    await archive.close();
  });

  it('gzips a day when the next one starts and reads across segments from any cursor', async () => {
    const archive = await Archive.open(dir, clock);
    const day1 = [record(T0), record(T0 + 1000)];
    await archive.append(day1);
    const cursorInDay1 = (await readAll(archive))[0]!.next;
    clock.advance(24 * 3600 * 1000);
    const day2 = [record(clock.now())];
    await archive.append(day2);
    await archive.close(); // waits for the compression
    expect((await readdir(dir)).sort()).toEqual(['2024-05-09.jsonl.gz', '2024-05-10.jsonl']);
    const unzipped = gunzipSync(await readFile(path.join(dir, '2024-05-09.jsonl.gz'))).toString();
    expect(unzipped.trimEnd().split('\n')).toHaveLength(2);

    const reopened = await Archive.open(dir, clock);
    const all = await readAll(reopened);
    expect(all.map((x) => x.id)).toEqual([...day1, ...day2].map((r) => r.measurement.id));
    expect(all[1]!.next).toEqual({ segment: '2024-05-09', offset: Buffer.byteLength(unzipped) });
    // A cursor inside the compressed day counts uncompressed bytes.
    expect((await readAll(reopened, cursorInDay1)).map((x) => x.id)).toEqual([day1[1]!, day2[0]!].map((r) => r.measurement.id));
    expect((await readAll(reopened, all[1]!.next)).map((x) => x.id)).toEqual([day2[0]!.measurement.id]);
    await reopened.close();
  });

  it('closes and compresses a finished day on rollover even when nothing new arrives', async () => {
    const archive = await Archive.open(dir, clock);
    await archive.append([record(T0)]);
    await archive.rollover();
    expect(await readdir(dir)).toEqual(['2024-05-09.jsonl']); // same day: stays open
    clock.advance(17 * 3600 * 1000 + 1); // 00:00:00.001 the next day
    await archive.rollover();
    // A record stamped before midnight but appended after the rollover goes to the new day.
    await archive.append([record(T0 + 1000)]);
    await archive.close();
    expect((await readdir(dir)).sort()).toEqual(['2024-05-09.jsonl.gz', '2024-05-10.jsonl']);
    const reopened = await Archive.open(dir, clock);
    expect(await readAll(reopened)).toHaveLength(2);
    await reopened.close();
  });

  it('compresses days left open by an earlier run when it opens on a later day', async () => {
    const first = await Archive.open(dir, clock);
    await first.append([record(T0)]);
    await first.close();
    clock.advance(2 * 24 * 3600 * 1000);
    const second = await Archive.open(dir, clock);
    expect(await readdir(dir)).toEqual(['2024-05-09.jsonl.gz']);
    expect(await readAll(second)).toHaveLength(1);
    await second.close();
  });

  it('cuts a torn last line at open, reports it, and appends cleanly after it', async () => {
    const archive = await Archive.open(dir, clock);
    const kept = [record(T0), record(T0 + 1)];
    await archive.append(kept);
    await archive.close();
    const file = path.join(dir, '2024-05-09.jsonl');
    const good = (await stat(file)).size;
    // A crash in the middle of writing the next record.
    const torn = JSON.stringify(record(T0 + 2)).slice(0, 321);
    await appendFile(file, torn);

    const reopened = await Archive.open(dir, clock);
    expect(reopened.recovered).toEqual([{ segment: '2024-05-09', size_before: good + torn.length, size_after: good }]);
    expect((await stat(file)).size).toBe(good);
    const next = record(T0 + 3);
    await reopened.append([next]);
    expect((await readAll(reopened)).map((x) => x.id)).toEqual([...kept, next].map((r) => r.measurement.id));
    await reopened.close();
  });

  it('cuts a segment holding only a torn line down to nothing', async () => {
    const torn = '{"received_at":"2024-05-09T07:00:00.000Z","probe_';
    await writeFile(path.join(dir, '2024-05-09.jsonl'), torn);
    const archive = await Archive.open(dir, clock);
    expect(archive.recovered).toEqual([{ segment: '2024-05-09', size_before: torn.length, size_after: 0 }]);
    expect(await readAll(archive)).toEqual([]);
    await archive.close();
  });

  it('finishes an interrupted compression (gzip renamed, plain file still there) and drops temp files', async () => {
    const archive = await Archive.open(dir, clock);
    await archive.append([record(T0)]);
    clock.advance(24 * 3600 * 1000);
    await archive.append([record(clock.now())]);
    await archive.close();
    // Simulate the crash: the plain file of the closed day is back beside its gzip, plus a temp file.
    const gz = await readFile(path.join(dir, '2024-05-09.jsonl.gz'));
    await writeFile(path.join(dir, '2024-05-09.jsonl'), gunzipSync(gz));
    await writeFile(path.join(dir, '2024-05-10.jsonl.gz.tmp'), 'partial');
    const reopened = await Archive.open(dir, clock);
    expect((await readdir(dir)).sort()).toEqual(['2024-05-09.jsonl.gz', '2024-05-10.jsonl']);
    expect(await readAll(reopened)).toHaveLength(2);
    await reopened.close();
  });

  it('keeps concurrent appends whole and in call order', async () => {
    const archive = await Archive.open(dir, clock);
    const batches = Array.from({ length: 20 }, (_, i) => [record(T0 + i * 10), record(T0 + i * 10 + 1)]);
    await Promise.all(batches.map((b) => archive.append(b)));
    expect((await readAll(archive)).map((x) => x.id)).toEqual(batches.flat().map((r) => r.measurement.id));
    await archive.close();
  });

  it('never goes back to a closed day: a late receipt time lands in the open segment', async () => {
    const archive = await Archive.open(dir, clock);
    clock.advance(24 * 3600 * 1000);
    await archive.append([record(clock.now())]);
    await archive.append([record(T0, T0)]); // received "yesterday" by its timestamp
    await archive.close();
    expect(await readdir(dir)).toEqual(['2024-05-10.jsonl']);
  });

  it('opens read-only without touching files and refuses appends', async () => {
    const writer = await Archive.open(dir, clock);
    await writer.append([record(T0)]);
    const file = path.join(dir, '2024-05-09.jsonl');
    await appendFile(file, '{"torn":');
    const reader = await Archive.open(dir, clock, { readonly: true });
    expect(await readAll(reader)).toHaveLength(1); // the partial line is not yielded
    expect((await readFile(file, 'utf8')).endsWith('{"torn":')).toBe(true);
    await expect(reader.append([record(T0)])).rejects.toThrow(/read-only/);
    await reader.close();
    await writer.close();
  });

  it('reads only what was fsynced: an append written but not yet synced is invisible until its fsync completes', async () => {
    const archive = await Archive.open(dir, clock);
    const durable = [record(T0), record(T0 + 1)];
    const first = await archive.append(durable);
    const second = { segment: '2024-05-09', offset: JSON.stringify(durable[0]).length + 1 };
    expect(first).toEqual({ from: { segment: '2024-05-09', offset: 0 }, to: archive.position(), starts: [{ segment: '2024-05-09', offset: 0 }, second] });

    // Hold every fsync until released: the next append is written to the file but not durable.
    const probe = await open(path.join(dir, '2024-05-09.jsonl'), 'r');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const realSync = proto.sync;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let held = 0;
    const spy = vi.spyOn(proto, 'sync').mockImplementation(async function (this: FileHandle) {
      held++;
      await gate;
      return realSync.call(this);
    });
    try {
      const pending = [record(T0 + 2), record(T0 + 3)];
      const appending = archive.append(pending);
      const file = path.join(dir, '2024-05-09.jsonl');
      for (let i = 0; i < 1000 && held === 0; i++) await new Promise((r) => setTimeout(r, 2));
      expect(held).toBe(1);
      const onDisk = (await readFile(file, 'utf8')).trimEnd().split('\n');
      expect(onDisk).toHaveLength(4); // written ...
      const seen = await readAll(archive);
      expect(seen.map((x) => x.id)).toEqual(durable.map((r) => r.measurement.id)); // ... but not yet durable: not read
      expect(seen.at(-1)!.next).toEqual(first.to);
      expect(await readAll(archive, first.to)).toEqual([]);

      release();
      const second = await appending;
      expect(second.from).toEqual(first.to);
      expect((await readAll(archive, first.to)).map((x) => x.id)).toEqual(pending.map((r) => r.measurement.id));
      expect((await readAll(archive)).at(-1)!.next).toEqual(second.to);
    } finally {
      release();
      spy.mockRestore();
    }
    await archive.close();
  });

  it('a read-only reader fsyncs a plain segment itself and reads no further than what it made durable', async () => {
    const writer = await Archive.open(dir, clock);
    await writer.append([record(T0)]);
    await writer.close();
    const reader = await Archive.open(dir, clock, { readonly: true });
    const probe = await open(path.join(dir, '2024-05-09.jsonl'), 'r');
    const proto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const spy = vi.spyOn(proto, 'sync');
    try {
      expect(await readAll(reader)).toHaveLength(1);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    await reader.close();
  });
});
