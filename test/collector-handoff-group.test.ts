// Group commit in ingest: concurrent batches share one archive fsync and one store transaction, are answered only once durable, and fail together when the fsync fails.
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ArchivedRecord } from '../collector/storage/archive.js';
import type { Follower } from '../collector/pipeline/follower.js';
import type { BatchAnswer, ErrorAnswer } from '../contract/wire.js';
import { makeMeasurement, startCollector, T0, type RunningCollector } from './fixtures/collector/helpers.js';

let c: RunningCollector;
const handed: Array<{ ids: string[]; before: unknown; after: unknown }> = [];

beforeEach(async () => {
  handed.length = 0;
  const follower: Follower = {
    name: 'recording',
    start: async () => undefined,
    stop: async () => undefined,
    rewind: async () => undefined,
    backlog: () => 0,
    offer: (records: readonly ArchivedRecord[], span) => {
      handed.push({ ids: records.map((r) => r.measurement.id), before: span.from, after: span.to });
      return true;
    },
  };
  c = await startCollector({ deps: { followers: [follower] } });
});

afterEach(async () => {
  vi.restoreAllMocks();
  await c.dispose();
});

async function fileHandlePrototype(): Promise<FileHandle> {
  const probe = await open(path.join(c.dir, 'store.sqlite'), 'r');
  const proto = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  return proto;
}

async function archivedIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const { record } of c.collector.archive.read()) ids.push(record.measurement.id);
  return ids;
}

describe('group commit', () => {
  it('commits concurrent batches together, answers each only once durable, and deduplicates across them', async () => {
    const probes = await Promise.all(Array.from({ length: 6 }, () => c.register()));
    const shared = makeMeasurement({ probeId: probes[0]!.id, at: T0 - 500_000 });
    const batches = probes.map((p, i) => [
      ...Array.from({ length: 5 }, (_, k) => makeMeasurement({ probeId: p.id, at: T0 - 1_000_000 + i * 1000 + k })),
      ...(i === 0 ? [shared] : []),
    ]);
    const proto = await fileHandlePrototype();
    const realSync = proto.sync;
    let syncs = 0;
    let synced = false;
    vi.spyOn(proto, 'sync').mockImplementation(async function (this: FileHandle) {
      syncs++;
      await new Promise((r) => setTimeout(r, 30)); // a slow disk: batches pile up behind the first fsync
      await realSync.call(this);
      synced = true;
    });
    const posts = batches.map((ms, i) => c.post(probes[i]!, ms));
    posts.push(c.post(probes[0]!, [shared], { signAt: c.clock.now() + 1 })); // the same measurement in a concurrent batch
    const answers = await Promise.all(posts.map((p) => p.then((res) => ({ res, durable: synced }))));
    vi.restoreAllMocks();

    for (const { res, durable } of answers) {
      expect(res.status).toBe(200);
      expect(durable).toBe(true); // nothing answered before an fsync completed
    }
    const statuses = answers.flatMap(({ res }) => (res.json() as BatchAnswer).results.map((r) => r.status));
    expect(statuses.filter((s) => s === 'accepted')).toHaveLength(31);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(1);
    expect(syncs).toBeLessThan(batches.length); // fewer fsyncs than batches: they were grouped

    const ids = await archivedIds();
    expect(ids).toHaveLength(31);
    expect(new Set(ids).size).toBe(31);
    expect(c.collector.store.measurementCount()).toBe(31);
    for (const p of probes) expect(c.collector.store.probe(p.id)?.last_seen).not.toBeNull();
    // The handoff saw every accepted record once, in archive order, as contiguous spans.
    expect(handed.flatMap((h) => h.ids)).toEqual(ids);
    for (let i = 1; i < handed.length; i++) expect(handed[i]!.before).toEqual(handed[i - 1]!.after);
    expect(handed.at(-1)!.after).toEqual(c.collector.archive.position());
  });

  it('fails every batch of a group whose fsync fails with 503, keeps none of them, and takes them on retry', async () => {
    const probes = await Promise.all(Array.from({ length: 3 }, () => c.register()));
    const first = makeMeasurement({ probeId: probes[0]!.id, at: T0 - 3_000_000 });
    expect((await c.post(probes[0]!, [first])).status).toBe(200); // the day's segment exists: the failure hits a write's fsync
    handed.length = 0;
    const batches = probes.map((p, i) => Array.from({ length: 4 }, (_, k) => makeMeasurement({ probeId: p.id, at: T0 - 2_000_000 + i * 1000 + k })));
    const proto = await fileHandlePrototype();
    const realSync = proto.sync;
    let failing = true;
    vi.spyOn(proto, 'sync').mockImplementation(async function (this: FileHandle) {
      await new Promise((r) => setTimeout(r, 20));
      if (failing) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
      return realSync.call(this);
    });
    const failed = await Promise.all(batches.map((ms, i) => c.post(probes[i]!, ms)));
    for (const res of failed) {
      expect(res.status).toBe(503);
      expect((res.json() as ErrorAnswer).error.code).toBe('archive_unavailable');
    }
    expect(await archivedIds()).toEqual([first.id]);
    expect(c.collector.store.measurementCount()).toBe(1);
    expect(handed).toEqual([]);

    failing = false;
    c.clock.advance(1);
    const retried = await Promise.all(batches.map((ms, i) => c.post(probes[i]!, ms)));
    for (const res of retried) expect((res.json() as BatchAnswer).results.every((r) => r.status === 'accepted')).toBe(true);
    expect(await archivedIds()).toHaveLength(13);
    expect(c.collector.store.measurementCount()).toBe(13);
  });
});
