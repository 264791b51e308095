// Recognising the collector's revocation of a probe (403 probe_revoked) and the client that, once told, sends nothing more over its pinned channel.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateIdentity } from '../probe/identity.js';
import { CollectorClient, UploadError } from '../probe/upload/client.js';
import { spkiSha256 } from '../probe/upload/pin.js';
import { reasonText, revocationIn, type Revocation } from '../probe/upload/revocation.js';
import { makeLabPki, type LabPki } from './fakes/pki.js';
import { startTestCollector, type TestCollector } from './fakes/upload-collector.js';
import { makeMeasurement, TOKEN } from './fixtures/collector/helpers.js';

const AT = Date.UTC(2024, 4, 9, 7, 0, 0);
const REVOKED = { code: 'probe_revoked', message: 'the operator revoked this probe at 2024-05-09T06:00:00.000Z: its uploads are refused' };

describe('revocationIn', () => {
  it('is a revocation only for 403 with the wire code probe_revoked', () => {
    expect(revocationIn(403, REVOKED, AT)).toEqual({ seen_at: '2024-05-09T07:00:00.000Z', reason: REVOKED.message });
    expect(revocationIn(401, REVOKED, AT)).toBeNull();
    expect(revocationIn(400, REVOKED, AT)).toBeNull();
    expect(revocationIn(403, { code: 'bad_token', message: 'the enrollment token is not valid' }, AT)).toBeNull();
    expect(revocationIn(403, { code: 'unknown_probe', message: '' }, AT)).toBeNull();
    // A 403 page of a proxy or a captive portal (no error body of the collector's) is an ordinary failure.
    expect(revocationIn(403, null, AT)).toBeNull();
    expect(revocationIn(200, REVOKED, AT)).toBeNull();
  });

  it("keeps the collector's reason on one bounded line", () => {
    expect(reasonText('revoked\nat noon\r\n\tfor\u0007 testing  ')).toBe('revoked at noon for testing');
    expect(reasonText('')).toBe('no reason given');
    expect(reasonText(' \n ')).toBe('no reason given');
    const long = reasonText('x'.repeat(1000));
    expect(long).toHaveLength(300);
    expect(long.endsWith('…')).toBe(true);
    expect(revocationIn(403, { code: 'probe_revoked', message: '' }, AT)?.reason).toBe('no reason given');
  });
});

describe('CollectorClient when the collector revoked the probe', () => {
  let pki: LabPki;
  let root: string;
  const cleanup: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    pki = await makeLabPki(['collector.ashyq.test']);
    root = await mkdtemp(path.join(os.tmpdir(), 'ashyq-upload-revocation-'));
  });
  afterEach(async () => {
    while (cleanup.length > 0) await cleanup.pop()!();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function enrolled(): Promise<{ c: TestCollector; client: CollectorClient; told: Revocation[]; probeId: string }> {
    const c = await startTestCollector({ serve: pki.leaf });
    cleanup.push(() => c.dispose());
    const identity = await loadOrCreateIdentity(path.join(root, `state-${cleanup.length}`));
    const told: Revocation[] = [];
    const client = new CollectorClient(
      { url: c.url, pinSpkiSha256: [spkiSha256(pki.leaf.cert)], proxy: null, enrollmentToken: TOKEN, timeoutMs: 5000 },
      identity,
      { clock: c.clock, network: c.network, onRevoked: (r) => told.push(r) },
    );
    cleanup.push(() => client.close());
    const results = await client.upload([makeMeasurement({ probeId: identity.probeId, at: c.clock.now() - 60_000 })]);
    expect(results.map((r) => r.status)).toEqual(['accepted']);
    return { c, client, told, probeId: identity.probeId };
  }

  it('throws kind revoked with the reason, tells its owner once, then sends nothing more (the collector gone: still revoked, not a network failure)', async () => {
    const { c, client, told, probeId } = await enrolled();
    expect(c.collector.store.revokeProbe(probeId, new Date(c.clock.now()).toISOString())).toBe(true);

    const first = await client.upload([makeMeasurement({ probeId, at: c.clock.now() - 30_000 })]).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(UploadError);
    const err = first as UploadError;
    expect(err).toMatchObject({ kind: 'revoked', code: 'ASHYQ_ERR_UPLOAD_REVOKED', status: 403, apiCode: 'probe_revoked' });
    expect(err.message).toMatch(/^the collector answered 403 \(probe_revoked: the operator revoked this probe at \S+: its uploads are refused\)$/);
    expect(err.revocation).toEqual({ seen_at: new Date(c.clock.now()).toISOString(), reason: expect.stringMatching(/^the operator revoked this probe at /) });
    expect(told).toEqual([err.revocation]);
    expect(client.revocation()).toEqual(err.revocation);

    // Nothing more leaves: with the collector stopped, every request still fails as revoked, at once, without a dial.
    await c.stop();
    const dials = c.network.dials.length;
    for (const call of [
      () => client.upload([makeMeasurement({ probeId, at: c.clock.now() })]),
      () => client.fetchTargets(null),
      () => client.whoami(),
      () => client.fetchControls(),
      () => client.register(),
    ]) {
      const again = (await call().catch((e: unknown) => e)) as UploadError;
      expect(again).toBeInstanceOf(UploadError);
      expect(again.kind).toBe('revoked');
      expect(again.message).toContain('nothing more is sent to it');
    }
    expect(await client.reachable()).toBe(false);
    expect(c.network.dials.length).toBe(dials);
    expect(told).toHaveLength(1);
  });

  it('another 403 (a refused enrollment token) stays an ordinary http failure', async () => {
    const c = await startTestCollector({ serve: pki.leaf });
    cleanup.push(() => c.dispose());
    const identity = await loadOrCreateIdentity(path.join(root, 'state-bad-token'));
    const client = new CollectorClient(
      { url: c.url, pinSpkiSha256: [spkiSha256(pki.leaf.cert)], proxy: null, enrollmentToken: 'not-the-token-0123456789', timeoutMs: 5000 },
      identity,
      { clock: c.clock, network: c.network },
    );
    cleanup.push(() => client.close());
    const err = (await client.register().catch((e: unknown) => e)) as UploadError;
    expect(err).toMatchObject({ kind: 'http', status: 403, apiCode: 'bad_token' });
    expect(client.revocation()).toBeNull();
    expect((await client.fetchTargets(null)).status).toBe('ok');
  });
});
