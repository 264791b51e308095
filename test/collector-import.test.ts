// The importer on its own: lines as the archive writes them are archived byte for byte, other spellings are serialised again, line ends and chunks do not matter.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { DEFAULT_LIMITS } from '../collector/config.js';
import { simulateRecords } from '../collector/events/simulate.js';
import { Importer } from '../collector/ingest/import.js';
import { MeasurementIndexFollower } from '../collector/pipeline/measurement-index-follower.js';
import { Pipeline } from '../collector/pipeline/pipeline.js';
import { MeasurementIndex } from '../collector/storage/measurement-index.js';
import { StoreIndex } from '../collector/pipeline/store-index.js';
import { Archive, type ArchivedRecord } from '../collector/storage/archive.js';
import { Store } from '../collector/storage/store.js';
import { loadTargetList } from '../collector/targets/list.js';
import { tempDir } from './fixtures/collector/helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function importer(chunk: number): Promise<{ importer: Importer; archive: Archive; store: Store; dir: string; done: () => Promise<void> }> {
  const dir = await tempDir('ashyq-import-');
  const archive = await Archive.open(path.join(dir, 'archive'), systemClock);
  const store = Store.open(path.join(dir, 'store.sqlite'));
  const pipeline = new Pipeline(new StoreIndex(archive, store), [], { warn: () => undefined });
  await pipeline.start();
  const targets = await loadTargetList(null);
  const done = async () => {
    await pipeline.stop();
    await archive.close();
    store.close();
  };
  cleanup.push(async () => rm(dir, { recursive: true, force: true }));
  return { importer: new Importer({ archive, store, pipeline, targets: targets.byId, limits: DEFAULT_LIMITS, clock: systemClock, chunk }), archive, store, dir, done };
}

async function archived(archive: Archive): Promise<ArchivedRecord[]> {
  const out: ArchivedRecord[] = [];
  for await (const { record } of archive.read()) out.push(record);
  return out;
}

describe('Importer', () => {
  const records = [...simulateRecords({ days: 1, probes: 5, seed: 7 })].slice(0, 700);

  it('archives lines written as the archive writes them byte for byte, in chunks, and indexes every record once', async () => {
    const { importer: imp, store, dir, done } = await importer(64);
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    const file = path.join(dir, 'in.jsonl.gz');
    await writeFile(file, gzipSync(text));
    await imp.importFile(file);
    // The same file again: all duplicates.
    await imp.importFile(file);
    expect(store.measurementCount()).toBe(records.length);
    await done();
    expect(imp.summary).toMatchObject({ read: 2 * records.length, accepted: records.length, duplicates: records.length, rejected: 0 });
    // One day, still open (plain): exactly the text read.
    expect(await readFile(path.join(dir, 'archive', `${records[0]!.received_at.slice(0, 10)}.jsonl`), 'utf8')).toBe(text);
  });

  it('fills the measurement index from the rows its parsing threads derived, each row pointing at its record\'s line', async () => {
    const dir = await tempDir('ashyq-import-index-');
    cleanup.push(async () => rm(dir, { recursive: true, force: true }));
    const archive = await Archive.open(path.join(dir, 'archive'), systemClock);
    const store = Store.open(path.join(dir, 'store.sqlite'));
    const index = MeasurementIndex.open(path.join(dir, 'store.sqlite'));
    const follower = new MeasurementIndexFollower(archive, index);
    const pipeline = new Pipeline(new StoreIndex(archive, store), [follower], { warn: () => undefined });
    await pipeline.start();
    const imp = new Importer({ archive, store, pipeline, targets: (await loadTargetList(null)).byId, limits: DEFAULT_LIMITS, clock: systemClock, chunk: 64 });
    const two = [...simulateRecords({ days: 2, probes: 5, seed: 9 })].slice(0, 3000);
    const file = path.join(dir, 'in.jsonl.gz');
    await writeFile(file, gzipSync(two.map((r) => `${JSON.stringify(r)}\n`).join('')));
    await imp.importFile(file);
    // Taken as handed over: the archive was never read again.
    expect(follower.backlog()).toBe(0);
    expect(follower.readRecords).toBe(0);
    await pipeline.stop();
    expect(index.count()).toBe(two.length);
    for (const r of [two[0]!, two[1234]!, two.at(-1)!]) {
      const row = index.get(r.measurement.id)!;
      expect(row).toMatchObject({ target: r.measurement.target.id, probe: r.probe_id, t: Date.parse(r.measurement.started_at) });
      expect((await archive.readAt({ segment: row.segment, offset: row.offset }))?.measurement.id).toBe(r.measurement.id);
    }
    await archive.close();
    index.close();
    store.close();
  });

  it('takes CRLF line ends, a last line without one, blank lines and other spellings of a record (re-serialised)', async () => {
    const { importer: imp, archive, dir, done } = await importer(5);
    const some = records.slice(0, 12);
    const spelled = some.map((r, i) =>
      i % 3 === 0
        ? JSON.stringify(r, null, 0).replace('"probe_id":', '"probe_id" : ') // spaces: not the archive's own spelling
        : i % 3 === 1
          ? JSON.stringify({ probe_id: r.probe_id, received_at: r.received_at, asn: r.asn, cc: r.cc, network: r.network, measurement: r.measurement }) // another key order
          : JSON.stringify(r),
    );
    const file = path.join(dir, 'in.jsonl');
    await writeFile(file, `${spelled.slice(0, 6).join('\r\n')}\r\n\r\n${spelled.slice(6).join('\n')}`);
    await imp.importFile(file);
    const stored = await archived(archive);
    await done();
    expect(imp.summary).toMatchObject({ read: 12, accepted: 12, rejected: 0 });
    expect(stored).toEqual(some);
    // A line not in the archive's own spelling is stored as the parsed record serialised again.
    const text = await readFile(path.join(dir, 'archive', `${some[0]!.received_at.slice(0, 10)}.jsonl`), 'utf8');
    expect(text).toBe(spelled.map((line) => `${JSON.stringify(JSON.parse(line))}\n`).join(''));
    expect(text.split('\n')[0]).toBe(JSON.stringify(some[0]));
  });

  it('keeps a line of non-ASCII text byte for byte, across read chunks, and one whose bytes are not UTF-8 as decoded', async () => {
    const { importer: imp, dir, done } = await importer(3);
    // A network name in Kazakh (two-byte characters) and one with an emoji (four bytes).
    const named = records.slice(0, 4).map((r, i) => ({ ...r, network: i % 2 === 0 ? 'Қазақтелеком АҚ' : 'Beeline 📶' }));
    const good = named.map((r) => Buffer.from(`${JSON.stringify(r)}\n`, 'utf8'));
    // The last record's name with a byte that starts no UTF-8 character: read as U+FFFD.
    const bad = Buffer.from(`${JSON.stringify({ ...records[4]!, network: 'Kcell XX' })}\n`, 'utf8');
    const at = bad.indexOf('XX');
    bad[at] = 0xff;
    bad[at + 1] = 0x41;
    // Enough lines that the file takes several reads of a megabyte (a line split between two).
    const filler = records.slice(5).map((r) => Buffer.from(`${JSON.stringify(r)}\n`, 'utf8'));
    const copies = Math.ceil((3 * 1024 * 1024) / Buffer.concat(filler).length);
    const file = path.join(dir, 'in.jsonl');
    await writeFile(file, Buffer.concat([...good, ...Array.from({ length: copies }, () => filler).flat(), bad]));
    await imp.importFile(file);
    await done();
    expect(imp.summary).toMatchObject({ accepted: good.length + filler.length + 1, rejected: 0 });
    const text = await readFile(path.join(dir, 'archive', `${records[0]!.received_at.slice(0, 10)}.jsonl`));
    expect(text.subarray(0, Buffer.concat(good).length).equals(Buffer.concat(good))).toBe(true);
    const last = text.subarray(text.lastIndexOf(0x0a, text.length - 2) + 1).toString('utf8');
    expect(JSON.parse(last).network).toBe('Kcell \uFFFDA');
    expect(text.includes(Buffer.from([0xff, 0x41]))).toBe(false);
  });

  it('names the line of a bad record after CRLF lines', async () => {
    const { importer: imp, dir, done } = await importer(100);
    const file = path.join(dir, 'in.jsonl');
    await writeFile(file, `${JSON.stringify(records[0])}\r\nnot json\r\n${JSON.stringify({ ...records[1], asn: 'x' })}\r\n`);
    await imp.importFile(file);
    await done();
    expect(imp.summary.problems.map((p) => [p.line, p.code])).toEqual([
      [2, 'bad_json'],
      [3, 'bad_record'],
    ]);
    expect(imp.summary.accepted).toBe(1);
  });
});
