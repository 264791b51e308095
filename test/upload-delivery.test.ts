// Spool → uploader → real collector on loopback: every measurement delivered exactly once through lost answers, outages, caps and corruption.
import { open as openFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TlsObservation } from '../contract/evidence.js';
import { loadOrCreateIdentity, type Identity } from '../probe/identity.js';
import type { Measurement } from '../contract/measurement.js';
import { Spool } from '../probe/spool/spool.js';
import { CollectorClient } from '../probe/upload/client.js';
import { spkiSha256 } from '../probe/upload/pin.js';
import { Uploader, type UploaderOptions } from '../probe/upload/uploader.js';
import { loopbackNetwork } from './fakes/loopback-network.js';
import { makeLabPki, type LabPki } from './fakes/pki.js';
import { COLLECTOR_IP, COLLECTOR_NAME, metricValue, startTestCollector, testLookup, type TestCollector } from './fakes/upload-collector.js';
import { startDroppingForwarder } from './fakes/upload-net.js';
import { makeMeasurement, tempDir, TOKEN } from './fixtures/collector/helpers.js';

let pki: LabPki;
let root: string;
let dirs = 0;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  pki = await makeLabPki([COLLECTOR_NAME]);
  root = await tempDir('ashyq-upload-delivery-');
});

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Probe {
  identity: Identity;
  stateDir: string;
  spool: Spool;
  client: CollectorClient;
  uploader: Uploader;
  logs: Array<[string, string]>;
  take(n: number): Promise<Measurement[]>;
}

async function collectorWith(o: Parameters<typeof startTestCollector>[0]): Promise<TestCollector> {
  const c = await startTestCollector(o);
  cleanup.push(() => c.dispose());
  return c;
}

async function probe(c: TestCollector, o: { url?: string; network?: ReturnType<typeof loopbackNetwork>; pins?: string[]; capBytes?: number; segmentBytes?: number; uploader?: Partial<UploaderOptions> } = {}): Promise<Probe> {
  const stateDir = path.join(root, `probe-${dirs++}`);
  const identity = await loadOrCreateIdentity(stateDir, { clock: c.clock });
  const spool = await Spool.open(path.join(stateDir, 'spool'), {
    capBytes: o.capBytes ?? 50 * 1024 * 1024,
    clock: c.clock,
    ...(o.segmentBytes ? { segmentBytes: o.segmentBytes } : {}),
  });
  const client = new CollectorClient(
    { url: o.url ?? c.url, pinSpkiSha256: o.pins ?? (c.url.startsWith('https') ? [spkiSha256(pki.leaf.cert)] : []), proxy: null, enrollmentToken: TOKEN, timeoutMs: 3000 },
    identity,
    { clock: c.clock, network: o.network ?? c.network, stateDir },
  );
  const logs: Array<[string, string]> = [];
  const uploader = new Uploader({
    spool,
    client,
    clock: c.clock,
    batchSize: 5,
    backoff: { baseMs: 20, capMs: 200 },
    log: (level, msg) => logs.push([level, msg]),
    ...o.uploader,
  });
  cleanup.push(async () => {
    await uploader.stop();
    await client.close();
    await spool.close();
  });
  return {
    identity,
    stateDir,
    spool,
    client,
    uploader,
    logs,
    async take(n) {
      const out: Measurement[] = [];
      for (let i = 0; i < n; i++) {
        const m = makeMeasurement({ probeId: identity.probeId, at: c.clock.now() - 60_000 + i });
        await spool.append(m);
        uploader.kick();
        out.push(m);
      }
      return out;
    },
  };
}

function sorted(ids: string[]): string[] {
  return [...ids].sort();
}

describe('delivery to the real collector', () => {
  it('registers, uploads signed batches over pinned TLS and empties the spool', async () => {
    const c = await collectorWith({ serve: pki.leaf });
    const p = await probe(c);
    const taken = await p.take(12);
    p.uploader.start();
    await until('spool drained', () => p.spool.stats().count === 0);
    expect(sorted(await c.archivedIds())).toEqual(sorted(taken.map((m) => m.id)));
    expect(p.uploader.status()).toMatchObject({ uploaded: 12, rejected: 0, consecutiveFailures: 0 });
    expect(c.collector.store.probe(p.identity.probeId)).toBeDefined();
    expect((await loadOrCreateIdentity(p.stateDir)).registered).toBe(true);
    // More measurements later: kicked, delivered.
    const later = await p.take(3);
    await until('later ones delivered', () => p.spool.stats().count === 0);
    expect(sorted(await c.archivedIds())).toEqual(sorted([...taken, ...later].map((m) => m.id)));
  });

  it('delivers exactly once when the collector stored a batch but its answer was lost', async () => {
    const c = await collectorWith({ serve: null });
    const forwarder = await startDroppingForwarder(() => c.port, 2);
    cleanup.push(() => forwarder.close());
    const network = loopbackNetwork({ [`${COLLECTOR_IP}:80`]: forwarder.port }, testLookup);
    const p = await probe(c, { network });
    const taken = await p.take(9);
    p.uploader.start();
    await until('spool drained', () => p.spool.stats().count === 0);
    expect(forwarder.dropped).toBe(2);
    const archived = await c.archivedIds();
    expect(archived).toHaveLength(9);
    expect(sorted(archived)).toEqual(sorted(taken.map((m) => m.id)));
    expect(c.collector.store.measurementCount()).toBe(9);
    // The resent batches were answered as duplicates: the collector's dedup did its job.
    expect(c.collector.metrics.measurementCount('duplicate')).toBeGreaterThanOrEqual(5);
    expect(c.collector.metrics.measurementCount('accepted')).toBe(9);
  });

  it('keeps everything through a long outage and delivers it once when the collector is back', async () => {
    const c = await collectorWith({ serve: pki.leaf });
    const p = await probe(c);
    const before = await p.take(3);
    p.uploader.start();
    await until('first batch delivered', () => p.spool.stats().count === 0);

    await c.stop();
    const during: Measurement[] = [];
    for (let i = 0; i < 6; i++) {
      during.push(...(await p.take(2)));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    // Sampled between attempts (while one is in flight nothing is scheduled yet).
    await until('several failed attempts', () => p.uploader.status().consecutiveFailures >= 5 && p.uploader.status().nextAttemptAt !== null);
    const down = p.uploader.status();
    expect(down.lastError).toMatch(/connection_refused/);
    expect(down.nextAttemptAt).not.toBeNull();
    expect(p.spool.stats().count).toBe(12);

    await c.start();
    await until('spool drained after the outage', () => p.spool.stats().count === 0);
    const archived = await c.archivedIds();
    expect(archived).toHaveLength(15);
    expect(sorted(archived)).toEqual(sorted([...before, ...during].map((m) => m.id)));
    expect(p.uploader.status().consecutiveFailures).toBe(0);
  });

  it('sends zero measurement bytes to a collector with the wrong certificate, and hands over the chain', async () => {
    const c = await collectorWith({ serve: { ...pki.qaznet.leaf, chain: [pki.qaznet.intermediate, pki.qaznet.root] } });
    const seen: TlsObservation[] = [];
    const p = await probe(c, { uploader: { onPinMismatch: (e) => seen.push(e) } });
    await p.take(4);
    p.uploader.start();
    await until('two refused attempts', () => seen.length >= 2);
    expect(seen[0]!.chain.map((x) => x.issuer)).toEqual(['CN=Security Certificate', 'C=KZ, CN=Qaznet Trust Network', 'C=KZ, CN=Qaznet Trust Network']);
    expect(p.uploader.status().lastError).toMatch(/does not match the pinned key/);
    expect(p.logs.some(([level, msg]) => level === 'error' && /POSSIBLE INTERCEPTION/.test(msg))).toBe(true);
    expect(p.spool.stats().count).toBe(4);
    // The collector never saw a request: no registration, no batch, no measurement, nothing archived.
    expect(c.collector.store.probeCount()).toBe(0);
    const metrics = await c.metrics();
    expect(metricValue(metrics, 'ashyq_ingest_batches_total', '{outcome="ok"}')).toBe(0);
    expect(metricValue(metrics, 'ashyq_ingest_batches_total', '{outcome="error"}')).toBe(0);
    expect(await c.archivedIds()).toEqual([]);
  });

  it('reports what a full spool dropped; the collector counts it once and shows it in /metrics', async () => {
    const c = await collectorWith({ serve: pki.leaf });
    const p = await probe(c, { capBytes: 16 * 1024, segmentBytes: 4 * 1024 });
    const taken = await p.take(20);
    const stats = p.spool.stats();
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.count + stats.dropped).toBe(20);
    const overflow = p.spool.takeOverflow()!;
    expect(overflow.dropped).toBe(stats.dropped);

    p.uploader.start();
    await until('spool drained and overflow reported', () => p.spool.stats().count === 0 && p.spool.takeOverflow() === null);
    const metrics = await c.metrics();
    expect(metricValue(metrics, 'ashyq_probe_spool_dropped_total')).toBe(stats.dropped);
    expect(metricValue(metrics, 'ashyq_probe_spool_overflow_reports_total')).toBe(1);
    expect(c.collector.store.spoolOverflowTotals()).toEqual({ reports: 1, dropped: stats.dropped });
    // What was not dropped arrived: the newest ones.
    expect(sorted(await c.archivedIds())).toEqual(sorted(taken.slice(20 - stats.count).map((m) => m.id)));
    expect(p.logs.some(([level, msg]) => level === 'warn' && msg.includes(`reported ${stats.dropped} measurement(s)`))).toBe(true);
  });

  it('delivers the rest of a spool whose file was corrupted, the bad record set aside', async () => {
    const c = await collectorWith({ serve: pki.leaf });
    const first = await probe(c);
    const taken = await first.take(6);
    await first.spool.close();
    // Flip bytes inside the third record of the segment.
    const spoolDir = path.join(first.stateDir, 'spool');
    const segment = (await readdir(spoolDir)).find((n) => n.endsWith('.seg'))!;
    const handle = await openFile(path.join(spoolDir, segment), 'r+');
    const { size } = await handle.stat();
    const at = Math.floor((size / 6) * 2.5);
    await handle.write(Buffer.from('CORRUPTED!CORRUPTED!'), 0, 20, at);
    await handle.close();

    const spool = await Spool.open(spoolDir, { capBytes: 50 * 1024 * 1024, clock: c.clock });
    expect(spool.setAside.length).toBeGreaterThan(0);
    const left = spool.stats().count;
    expect(left).toBe(5);
    const client = new CollectorClient(
      { url: c.url, pinSpkiSha256: [spkiSha256(pki.leaf.cert)], proxy: null, enrollmentToken: TOKEN, timeoutMs: 3000 },
      first.identity,
      { clock: c.clock, network: c.network },
    );
    const uploader = new Uploader({ spool, client, clock: c.clock, batchSize: 4, backoff: { baseMs: 20, capMs: 200 } });
    cleanup.push(async () => {
      await uploader.stop();
      await client.close();
      await spool.close();
    });
    uploader.start();
    await until('the rest delivered', () => spool.stats().count === 0);
    const archived = await c.archivedIds();
    expect(archived).toHaveLength(5);
    expect(taken.map((m) => m.id).filter((id) => !archived.includes(id))).toHaveLength(1);
  });
});
