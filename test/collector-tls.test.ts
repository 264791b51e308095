// The collector over HTTPS (config tls: cert and key files): a real TLS handshake on 127.0.0.1 and a signed upload.
import { writeFile, rm } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCollector, type Collector } from '../collector/app.js';
import { signBatch } from '../contract/wire.js';
import { makeLabPki, type LabPki } from './fakes/pki.js';
import { makeMeasurement, ManualClock, newKeyPair, T0, tempDir, testConfig, testTargets, TOKEN } from './fixtures/collector/helpers.js';

const NAME = 'collector.ashyq.test';
let dir: string;
let pki: LabPki;
let collector: Collector;
let port: number;

function call(method: string, urlPath: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; text: string; protocol: string | null }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: urlPath, method, headers, servername: NAME, ca: pki.root, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const socket = res.socket as import('node:tls').TLSSocket;
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), protocol: socket.getProtocol?.() ?? null });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  dir = await tempDir();
  pki = await makeLabPki([NAME]);
  await writeFile(path.join(dir, 'cert.pem'), [pki.leaf.cert, ...pki.leaf.chain].join('\n'));
  await writeFile(path.join(dir, 'key.pem'), pki.leaf.key);
  const config = { ...testConfig(path.join(dir, 'data')), tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') } };
  collector = await createCollector(config, { clock: new ManualClock(T0), log: false, targets: await testTargets() });
  await collector.app.listen({ host: '127.0.0.1', port: 0 });
  port = (collector.app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await collector?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('collector over TLS', () => {
  it('registers and accepts a signed batch over HTTPS', async () => {
    const health = await call('GET', '/healthz', {});
    expect(health.status).toBe(200);
    expect(health.protocol).toMatch(/^TLSv1\.[23]$/);
    const keys = newKeyPair();
    const reg = await call('POST', '/api/v1/probes', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ enrollment_token: TOKEN, public_key: keys.publicKeyPem })));
    expect(reg.status).toBe(201);
    const id = (JSON.parse(reg.text) as { probe_id: string }).probe_id;
    const body = gzipSync(JSON.stringify({ probe_id: id, measurements: [makeMeasurement({ probeId: id, at: T0 })] }));
    const res = await call('POST', '/api/v1/measurements', { ...signBatch(keys.privateKey, id, body, T0) }, body);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.text) as { results: Array<{ status: string }> }).results[0]!.status).toBe('accepted');
  });

  it('is refused by a client that does not trust the certificate', async () => {
    const plain = new Promise((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/healthz', servername: NAME, agent: false }, resolve).on('error', reject);
    });
    await expect(plain).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });
});
