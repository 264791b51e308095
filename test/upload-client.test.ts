// The collector client against the real collector over HTTPS on loopback: registration, signed uploads, targets, whoami, pinning.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTargets } from '../contract/target-list.js';
import { InvalidArgumentError } from '../common/errors.js';
import { loadOrCreateIdentity, type Identity } from '../probe/identity.js';
import { CollectorClient, UploadError, type CollectorEndpoint } from '../probe/upload/client.js';
import { collectorInterceptionMeasurement, spkiSha256 } from '../probe/upload/pin.js';
import { makeLabPki, type CertKey, type LabPki } from './fakes/pki.js';
import { COLLECTOR_IP, COLLECTOR_NAME, metricValue, startTestCollector, type TestCollector } from './fakes/upload-collector.js';
import { startInterceptor } from './fakes/upload-net.js';
import { makeMeasurement, newKeyPair, TOKEN } from './fixtures/collector/helpers.js';
import { validateMeasurement } from '../collector/ingest/validate.js';

let pki: LabPki;
let stateRoot: string;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  pki = await makeLabPki([COLLECTOR_NAME]);
  stateRoot = await mkdtemp(path.join(os.tmpdir(), 'ashyq-upload-client-'));
});

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

afterAll(async () => {
  await rm(stateRoot, { recursive: true, force: true });
});

let stateCount = 0;
async function freshIdentity(): Promise<{ identity: Identity; stateDir: string }> {
  const stateDir = path.join(stateRoot, `state-${stateCount++}`);
  return { identity: await loadOrCreateIdentity(stateDir), stateDir };
}

function endpoint(c: TestCollector, pins: string[], extra: Partial<CollectorEndpoint> = {}): CollectorEndpoint {
  return { url: c.url, pinSpkiSha256: pins, proxy: null, enrollmentToken: TOKEN, timeoutMs: 5000, ...extra };
}

async function collectorWith(serve: CertKey | null, options: Omit<Parameters<typeof startTestCollector>[0], 'serve'> = {}): Promise<TestCollector> {
  const c = await startTestCollector({ serve, ...options });
  cleanup.push(() => c.dispose());
  return c;
}

function clientFor(c: TestCollector, identity: Identity, ep: CollectorEndpoint, stateDir?: string): CollectorClient {
  const client = new CollectorClient(ep, identity, { clock: c.clock, network: c.network, ...(stateDir ? { stateDir } : {}) });
  cleanup.push(() => client.close());
  return client;
}

async function failure(p: Promise<unknown>): Promise<UploadError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(UploadError);
    return err as UploadError;
  }
  throw new Error('expected the call to fail');
}

describe('CollectorClient with a pinned collector', () => {
  it('registers once, persists it, uploads a signed gzip batch and gets per-measurement answers', async () => {
    const c = await collectorWith(pki.leaf);
    const { identity, stateDir } = await freshIdentity();
    const client = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)]), stateDir);

    const m1 = makeMeasurement({ probeId: identity.probeId, at: c.clock.now() - 1000 });
    const m2 = makeMeasurement({ probeId: identity.probeId, at: c.clock.now() - 500, target: { id: 'telegram', category: 'messenger' } });
    const results = await client.upload([m1, m2]);
    expect(results.map((r) => [r.index, r.id, r.status])).toEqual([
      [0, m1.id, 'accepted'],
      [1, m2.id, 'accepted'],
    ]);
    expect(c.collector.store.probe(identity.probeId)?.public_key).toBe(identity.publicKeyPem);
    const saved = JSON.parse(await readFile(path.join(stateDir, 'identity.json'), 'utf8')) as { registered: boolean };
    expect(saved.registered).toBe(true);
    expect((await loadOrCreateIdentity(stateDir)).registered).toBe(true);

    // The same measurement again (an answer that got lost): a duplicate, stored once.
    const again = await client.upload([m1]);
    expect(again[0]!.status).toBe('duplicate');
    expect(await c.archivedIds()).toEqual([m1.id, m2.id]);
    // Registering again with the same key is a safe retry (200).
    await client.register();
    expect(c.collector.store.probeCount()).toBe(1);
  });

  it('re-registers once when the collector answers 401 unknown_probe', async () => {
    const c = await collectorWith(pki.leaf);
    const { identity } = await freshIdentity();
    identity.registered = true; // a registration this collector has never seen (e.g. it was reset)
    const client = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)]));
    const m = makeMeasurement({ probeId: identity.probeId, at: c.clock.now() });
    const results = await client.upload([m]);
    expect(results[0]!.status).toBe('accepted');
    expect(c.collector.metrics.rejectCount('unknown_probe')).toBe(1);
    expect(c.collector.store.probe(identity.probeId)).toBeDefined();
  });

  it('reports rejected items with their reason instead of failing the batch', async () => {
    const c = await collectorWith(pki.leaf);
    const { identity } = await freshIdentity();
    const client = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)]));
    const good = makeMeasurement({ probeId: identity.probeId, at: c.clock.now() });
    const unknown = makeMeasurement({ probeId: identity.probeId, at: c.clock.now(), target: { id: 'no-such-target', category: 'news' } });
    const results = await client.upload([good, unknown]);
    expect(results[0]!.status).toBe('accepted');
    expect(results[1]).toMatchObject({ index: 1, id: unknown.id, status: 'rejected', code: 'unknown_target' });
    expect(results[1]!.reason).toMatch(/^target\.id: unknown target/);
  });

  it('fails registration clearly: no token, a wrong token, an id registered with another key', async () => {
    const c = await collectorWith(pki.leaf);
    const pins = [spkiSha256(pki.leaf.cert)];
    const m = (id: string) => makeMeasurement({ probeId: id, at: c.clock.now() });

    const a = await freshIdentity();
    const noToken = await failure(clientFor(c, a.identity, endpoint(c, pins, { enrollmentToken: null })).upload([m(a.identity.probeId)]));
    expect(noToken.kind).toBe('http');
    expect(noToken.message).toMatch(/no enrollment token/);

    const wrong = await failure(clientFor(c, a.identity, endpoint(c, pins, { enrollmentToken: 'not-the-token-at-all' })).register());
    expect(wrong).toMatchObject({ kind: 'http', status: 403, apiCode: 'bad_token' });

    const b = await freshIdentity();
    const other = newKeyPair();
    // Someone registered b's id with another key first.
    const squat = clientFor(c, { ...b.identity, privateKey: other.privateKey, publicKeyPem: other.publicKeyPem }, endpoint(c, pins));
    await squat.register();
    const conflict = await failure(clientFor(c, b.identity, endpoint(c, pins)).register());
    expect(conflict).toMatchObject({ kind: 'http', status: 409, apiCode: 'probe_exists' });
    expect(conflict.message).toMatch(/registered with another key/);
    expect(c.collector.store.measurementCount()).toBe(0);
  });

  it('fetches the target list conditionally and splits off a surge hint', async () => {
    const until = new Date(Date.now() + 3600_000).toISOString();
    const c = await collectorWith(pki.leaf, { surge: { targets: ['youtube', 'telegram'], interval_minutes: 10, until } });
    const { identity } = await freshIdentity();
    const client = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)]));
    const first = await client.fetchTargets(null);
    if (first.status !== 'ok') throw new Error('expected a target list');
    expect(first.etag).toBe(c.collector.targets.etag);
    expect(first.surge).toEqual({ targets: ['youtube', 'telegram'], interval_minutes: 10, until });
    const targets = parseTargets(first.text, 'collector');
    expect(targets.map((t) => t.id)).toEqual(c.collector.targets.targets.map((t) => t.id));
    expect(targets.map((t) => t.id)).not.toContain('ashyq-collector');
    expect(await client.fetchTargets(first.etag)).toEqual({ status: 'not-modified' });
    const changed = await client.fetchTargets('"stale"');
    expect(changed.status).toBe('ok');
  });

  it('asks whoami and gets the network, never the address', async () => {
    const seen: string[] = [];
    const c = await collectorWith(pki.leaf, {
      asnLookup: (ip) => {
        seen.push(ip);
        return { asn: 9198, cc: 'KZ', network: 'JSC Kazakhtelecom' };
      },
    });
    const { identity } = await freshIdentity();
    const client = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)]));
    expect(await client.whoami()).toEqual({ asn: 9198, cc: 'KZ', network: 'JSC Kazakhtelecom' });
    expect(seen).toEqual(['127.0.0.1']);
  });

  it('fetches the control evidence through the pinned channel: null from a collector without the control vantage', async () => {
    const c = await collectorWith(pki.leaf);
    const { identity } = await freshIdentity();
    const client = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)]));
    expect(await client.fetchControls()).toBeNull();
    const wrong = clientFor(c, identity, endpoint(c, [spkiSha256(pki.selfSigned.cert)]));
    await expect(wrong.fetchControls()).rejects.toThrow(/pin/i);
  });

  it('says whether the collector answers through the pinned channel (reachable), false for a wrong pin or a stopped collector', async () => {
    const c = await collectorWith(pki.leaf);
    const { identity } = await freshIdentity();
    expect(await clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)])).reachable()).toBe(true);
    expect(await clientFor(c, identity, endpoint(c, [spkiSha256(pki.selfSigned.cert)])).reachable()).toBe(false);
    const pinned = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)]));
    await c.stop();
    expect(await pinned.reachable()).toBe(false);
  });

  it('turns 429 into an http error carrying retry-after, and 413 into a rejected batch', async () => {
    const c = await collectorWith(pki.leaf, { limits: { rate_per_probe: { per_minute: 1, burst: 1 }, max_batch_items: 2 } });
    const { identity } = await freshIdentity();
    const client = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)]));
    const mk = () => makeMeasurement({ probeId: identity.probeId, at: c.clock.now() });
    const tooMany = await failure(client.upload([mk(), mk(), mk()]));
    expect(tooMany).toMatchObject({ kind: 'rejected_batch', status: 413, apiCode: 'too_many_items' });
    const limited = await failure(client.upload([mk()]));
    expect(limited).toMatchObject({ kind: 'http', status: 429, apiCode: 'rate_limited' });
    expect(limited.retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(limited.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('reports an unreachable collector and a silent one as network failures', async () => {
    const c = await collectorWith(pki.leaf);
    const { identity } = await freshIdentity();
    const pins = [spkiSha256(pki.leaf.cert)];
    await c.stop();
    const refused = await failure(clientFor(c, identity, endpoint(c, pins)).register());
    expect(refused.kind).toBe('network');
    expect(refused.message).toMatch(/^connection_refused/);

    // Accepts TCP, never answers the ClientHello.
    const silent = net.createServer((s) => s.resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => silent.close(resolve)));
    c.map[`${COLLECTOR_IP}:443`] = (silent.address() as net.AddressInfo).port;
    const started = Date.now();
    const timeout = await failure(clientFor(c, identity, endpoint(c, pins, { timeoutMs: 300 })).register());
    expect(timeout.kind).toBe('network');
    expect(timeout.message).toMatch(/^generic_timeout_error/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('pinning', () => {
  it('accepts a self-signed collector certificate whose key is pinned (leaf pin)', async () => {
    const c = await collectorWith(pki.selfSigned);
    const { identity } = await freshIdentity();
    const client = clientFor(c, identity, endpoint(c, [`sha256/${spkiSha256(pki.selfSigned.cert)}`]));
    await client.register();
    expect(c.collector.store.probeCount()).toBe(1);
  });

  it('accepts a chain pin (the lab root) only over a genuine path to a leaf for the collector name', async () => {
    const rootPin = spkiSha256(pki.root);
    const good = await collectorWith({ ...pki.leaf, chain: [pki.root] });
    const a = await freshIdentity();
    await clientFor(good, a.identity, endpoint(good, [rootPin])).register();
    expect(good.collector.store.probeCount()).toBe(1);

    // An interceptor's own self-signed leaf followed by the genuine (public) root (the path checks
    // themselves are unit-tested in upload-pin.test.ts).
    const forged = await collectorWith({ ...pki.selfSigned, chain: [pki.root] });
    const b = await freshIdentity();
    const e1 = await failure(clientFor(forged, b.identity, endpoint(forged, [rootPin])).register());
    expect(e1.kind).toBe('pin_mismatch');
    expect(forged.collector.store.probeCount()).toBe(0);

    // A genuine leaf from the pinned root, but for another name.
    const other = await collectorWith({ ...pki.wrongHost, chain: [pki.root] });
    const e2 = await failure(clientFor(other, b.identity, endpoint(other, [rootPin])).register());
    expect(e2.kind).toBe('pin_mismatch');
    expect(e2.message).toMatch(/not valid for collector\.ashyq\.test/);
    expect(other.collector.store.probeCount()).toBe(0);
  });

  it('sends nothing to a collector presenting another key, and hands over the chain as evidence', async () => {
    // The national interception PKI: leaf for the collector's name ← "Security Certificate" ← "Qaznet Trust Network".
    const c = await collectorWith({ ...pki.qaznet.leaf, chain: [pki.qaznet.intermediate, pki.qaznet.root] });
    const { identity } = await freshIdentity();
    const client = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert), spkiSha256(pki.root)]));
    const m = makeMeasurement({ probeId: identity.probeId, at: c.clock.now() });
    const err = await failure(client.upload([m]));
    expect(err.kind).toBe('pin_mismatch');
    const ev = err.pinEvidence!;
    expect(ev.sni).toBe(COLLECTOR_NAME);
    expect(ev.chain.map((x) => x.subject)).toEqual([`CN=${COLLECTOR_NAME}`, 'CN=Security Certificate', 'C=KZ, CN=Qaznet Trust Network']);
    expect(ev.chain[0]!.spki_sha256).toBe(spkiSha256(pki.qaznet.leaf.cert));
    expect(ev.trusted).toBe(false);
    expect(ev.hostname_ok).toBe(true);
    expect(ev.failure).toBeNull();
    expect(ev.version).toMatch(/^TLSv1\.[23]$/);

    // Not one request reached the collector: no registration, no batch, nothing archived.
    expect(c.collector.store.probeCount()).toBe(0);
    const metrics = await c.metrics();
    expect(metrics).toContain('ashyq_ingest_batches_total{outcome="ok"} 0');
    expect(metrics).toContain('ashyq_ingest_batches_total{outcome="error"} 0');
    expect(metricValue(metrics, 'ashyq_ingest_measurements_total', '{status="accepted"}')).toBe(0);
    expect(await c.archivedIds()).toEqual([]);

    // The evidence makes a tls.interception measurement of the collector that a collector accepts.
    const record = collectorInterceptionMeasurement({
      evidence: ev,
      probe: m.probe,
      id: makeMeasurement({ probeId: identity.probeId, at: c.clock.now() }).id,
      startedAt: c.clock.now(),
      runtimeMs: 12,
    });
    expect(record.verdict.verdict).toBe('tls.interception');
    const check = validateMeasurement(JSON.parse(JSON.stringify(record)), {
      now: c.clock.now(),
      maxAgeMs: 86_400_000,
      maxFutureMs: 600_000,
      targets: c.collector.targets.byId,
      signer: identity.probeId,
    });
    expect(check.ok).toBe(true);
  });

  it('writes zero plaintext bytes to an interceptor (counted by the interceptor itself)', async () => {
    const interceptor = await startInterceptor({ ...pki.qaznet.leaf, chain: [pki.qaznet.intermediate] });
    cleanup.push(() => interceptor.close());
    const c = await collectorWith(pki.leaf);
    c.map[`${COLLECTOR_IP}:443`] = interceptor.port;
    const { identity } = await freshIdentity();
    identity.registered = true;
    const client = clientFor(c, identity, endpoint(c, [spkiSha256(pki.leaf.cert)]));
    const batch = Array.from({ length: 20 }, () => makeMeasurement({ probeId: identity.probeId, at: c.clock.now() }));
    const err = await failure(client.upload(batch));
    expect(err.kind).toBe('pin_mismatch');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(interceptor.connections).toBe(1);
    expect(interceptor.plaintextBytes).toBe(0);

    // Control: a client that pinned the interceptor's key does send its request there, and the counter sees it.
    const fooled = clientFor(c, identity, endpoint(c, [spkiSha256(pki.qaznet.leaf.cert)], { timeoutMs: 500 }));
    const timedOut = await failure(fooled.upload(batch));
    expect(timedOut.kind).toBe('network');
    expect(interceptor.plaintextBytes).toBeGreaterThan(1000);
  });

  it('refuses bad pin configuration', async () => {
    const { identity } = await freshIdentity();
    const clock = { now: () => Date.now(), monotonic: () => performance.now() };
    const ep = { url: 'https://collector.ashyq.test', proxy: null, enrollmentToken: null, timeoutMs: 1000 };
    expect(() => new CollectorClient({ ...ep, pinSpkiSha256: [] }, identity, { clock })).toThrow(InvalidArgumentError);
    expect(() => new CollectorClient({ ...ep, pinSpkiSha256: ['not-a-pin'] }, identity, { clock })).toThrow(/not a base64 SHA-256 SPKI pin/);
    expect(() => new CollectorClient({ ...ep, url: 'http://collector.ashyq.test', pinSpkiSha256: [spkiSha256(pki.leaf.cert)] }, identity, { clock })).toThrow(/http:\/\//);
    expect(() => new CollectorClient({ ...ep, url: 'ftp://x', pinSpkiSha256: [] }, identity, { clock })).toThrow(InvalidArgumentError);
  });
});
