// The archive is the source of truth: reindex rebuilds exactly the live store, and a restart indexes what a crash left.
import { appendFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Archive } from '../collector/storage/archive.js';
import { main } from '../collector/cli/main.js';
import { Store } from '../collector/storage/store.js';
import type { BatchAnswer } from '../contract/wire.js';
import type { Verdict } from '../contract/verdict.js';
import { makeMeasurement, ManualClock, startCollector, T0, TARGETS_FILE, TOKEN, tempDir, type RunningCollector } from './fixtures/collector/helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const VERDICTS: Verdict[] = ['ok', 'tls.reset', 'dns.nxdomain', 'ok', 'tcp.timeout', 'offline'];
const TARGETS = [
  { id: 'youtube', category: 'video' as const },
  { id: 'telegram', category: 'messenger' as const },
  { id: 'canary-kz', category: 'canary' as const },
];

/** Two days of uploads from three probes, with duplicates and rejects mixed in. */
async function fill(c: RunningCollector): Promise<number> {
  const probes = [await c.register(), await c.register(), await c.register()];
  let accepted = 0;
  for (let day = 0; day < 2; day++) {
    for (let round = 0; round < 6; round++) {
      for (const [pi, p] of probes.entries()) {
        c.clock.advance(7 * 60_000);
        const now = c.clock.now();
        const ms = Array.from({ length: 5 }, (_, k) =>
          makeMeasurement({
            probeId: p.id,
            at: now - k * 4 * 60_000,
            target: TARGETS[(round + k) % TARGETS.length]!,
            verdict: VERDICTS[(pi + round + k) % VERDICTS.length]!,
            asn: pi === 2 ? null : [9198, 21299][pi]!,
          }),
        );
        const res = await c.post(p, [...ms, ms[0], { ...ms[1], id: 'broken' }]);
        const answer = res.json() as BatchAnswer;
        accepted += answer.results.filter((r) => r.status === 'accepted').length;
      }
    }
    c.clock.advance(20 * 3600 * 1000);
  }
  return accepted;
}

function configYaml(dir: string): string {
  return `data_dir: ${JSON.stringify(dir)}\nlisten: { host: 127.0.0.1, port: 0 }\nenrollment_tokens: [${TOKEN}]\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n`;
}

describe('reindex', () => {
  it('rebuilds from the archive exactly the aggregates and ids of the live store', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const c = await startCollector({ dir });
    const accepted = await fill(c);
    expect(accepted).toBe(2 * 6 * 3 * 5);
    const live = c.collector.store.aggregates();
    const liveIds = c.collector.store.measurementIds();
    expect(liveIds).toHaveLength(accepted);
    expect(new Set(live.map((r) => r.target)).size).toBe(3);
    expect(live.some((r) => r.asn === null)).toBe(true);
    await c.stop();
    expect((await readdir(path.join(dir, 'archive'))).sort()).toEqual(['2024-05-09.jsonl.gz', '2024-05-10.jsonl']);

    // Damage the index: the rebuild must not depend on what is there.
    const db = new Database(path.join(dir, 'store.sqlite'));
    db.exec("DELETE FROM aggregates WHERE verdict = 'ok'; UPDATE aggregates SET count = count + 5; DELETE FROM measurements WHERE substr(id, 26, 1) < 'M';");
    db.exec("INSERT INTO aggregates VALUES (0, 'youtube', 1, 'XX', 'ok', 1, 0, 0)");
    db.close();

    const configFile = path.join(dir, 'collector.yaml');
    await writeFile(configFile, configYaml(dir));
    const out: string[] = [];
    const code = await main(['reindex', '--config', configFile], { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) } });
    expect(code).toBe(0);
    expect(out.join('')).toContain(`reindexed ${accepted} archived records, ${accepted} distinct measurements`);

    const store = Store.open(path.join(dir, 'store.sqlite'));
    try {
      expect(store.aggregates()).toEqual(live);
      expect(store.measurementIds()).toEqual(liveIds);
      expect(store.probeCount()).toBe(3);
    } finally {
      store.close();
    }
  });

  it('indexes on restart what was archived but not yet in the store (crash between fsync and commit)', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const c = await startCollector({ dir });
    const p = await c.register();
    await c.post(p, [makeMeasurement({ probeId: p.id, at: T0 })]);
    await c.stop();

    // Append records straight to the archive, as a crash after the fsync would leave them.
    const clock = new ManualClock(T0);
    const archive = await Archive.open(path.join(dir, 'archive'), clock);
    const orphans = [makeMeasurement({ probeId: p.id, at: T0 - 60_000 }), makeMeasurement({ probeId: p.id, at: T0 - 120_000, verdict: 'tls.reset' })];
    await archive.append(orphans.map((m) => ({ received_at: new Date(T0).toISOString(), probe_id: p.id, asn: 9198, cc: 'KZ', network: 'x', measurement: m })));
    await archive.close();

    const again = await startCollector({ dir, clock: new ManualClock(T0 + 1000) });
    try {
      expect(again.collector.caughtUp).toEqual({ records: 2, added: 2 });
      expect(again.collector.store.measurementCount()).toBe(3);
      // The probe's retry of the orphans is answered duplicate: they were durable.
      const retry = await again.post(p, orphans);
      expect((retry.json() as BatchAnswer).results.map((r) => r.status)).toEqual(['duplicate', 'duplicate']);
      const live = again.collector.store.aggregates();
      await again.stop();
      const store = Store.open(path.join(dir, 'store.sqlite'));
      const archive2 = await Archive.open(path.join(dir, 'archive'), clock);
      const { reindex } = await import('../collector/pipeline/reindex.js');
      const { StoreIndex } = await import('../collector/pipeline/store-index.js');
      await reindex([new StoreIndex(archive2, store)]);
      expect(store.aggregates()).toEqual(live);
      store.close();
      await archive2.close();
    } finally {
      await again.dispose();
    }
  });

  it('cuts a torn archive line on restart, reports it and keeps serving', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const c = await startCollector({ dir });
    const p = await c.register();
    const first = makeMeasurement({ probeId: p.id, at: T0 });
    await c.post(p, [first]);
    await c.stop();
    const segment = path.join(dir, 'archive', '2024-05-09.jsonl');
    await appendFile(segment, '{"received_at":"2024-05-09T07:00:00.000Z","probe_id":"');

    const again = await startCollector({ dir, clock: new ManualClock(T0 + 1000) });
    try {
      expect(again.collector.recovered).toHaveLength(1);
      expect(again.logs.some((l) => l.includes('torn'))).toBe(true);
      const second = makeMeasurement({ probeId: p.id, at: T0 + 500 });
      const res = await again.post(p, [first, second]);
      expect((res.json() as BatchAnswer).results.map((r) => r.status)).toEqual(['duplicate', 'accepted']);
      const ids: string[] = [];
      for await (const { record } of again.collector.archive.read()) ids.push(record.measurement.id);
      expect(ids).toEqual([first.id, second.id]);
    } finally {
      await again.dispose();
    }
  });
});
