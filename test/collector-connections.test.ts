// Tests that silent sockets cannot take the collector down: a collector process with a small file-descriptor limit still registers and takes an upload from a probe while one address floods it with idle connections.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { signBatch, type BatchAnswer } from '../contract/wire.js';
import { CONNECTION_LIMITS } from '../collector/api/server.js';
import { makeMeasurement, newKeyPair, request, tempDir, TARGETS_FILE, TOKEN } from './fixtures/collector/helpers.js';

const BIN = fileURLToPath(new URL('../bin/ashyq-collector.js', import.meta.url));
/** The collector's descriptor limit: far fewer than the flood's sockets. */
const FD_LIMIT = 512;
const FLOOD = 1500;

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function startCollectorProcess(): Promise<{ url: string; child: ChildProcess }> {
  const dir = await tempDir('ashyq-conn-');
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'collector.yaml');
  await writeFile(
    config,
    `data_dir: ${JSON.stringify(path.join(dir, 'data'))}\nlisten: { host: 127.0.0.1, port: 0 }\nenrollment_tokens: [${JSON.stringify(TOKEN)}]\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n`,
  );
  const child = spawn('bash', ['-c', `ulimit -n ${FD_LIMIT} && exec "$0" "$1" serve --config "$2"`, process.execPath, BIN, config], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.push(() => {
    child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!.replace('localhost', '127.0.0.1'));
    });
    child.once('exit', (code) => reject(new Error(`the collector exited (${code}): ${out}${err}`)));
  });
  return { url, child };
}

/** Open `n` connections from `localAddress` that send nothing; resolves once each is connected or closed. */
async function flood(url: string, n: number, localAddress: string): Promise<{ sockets: net.Socket[]; closed: () => number }> {
  const { port } = new URL(url);
  const sockets: net.Socket[] = [];
  let closed = 0;
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port: Number(port), localAddress });
          sockets.push(s);
          s.once('connect', () => resolve());
          s.once('error', () => resolve());
          s.once('close', () => {
            closed++;
            resolve();
          });
        }),
    ),
  );
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
  });
  return { sockets, closed: () => closed };
}

describe.runIf(process.platform === 'linux')('connection bounds', () => {
  it('closes a flood of silent sockets from one address over its bound, and still registers a probe and takes its upload', { timeout: 60_000 }, async () => {
    const { url } = await startCollectorProcess();
    const silent = await flood(url, FLOOD, '127.0.0.2');

    const keys = newKeyPair();
    const registered = await request(`${url}/api/v1/probes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrollment_token: TOKEN, public_key: keys.publicKeyPem }),
    });
    expect(registered.status).toBe(201);
    const probeId = (registered.json() as { probe_id: string }).probe_id;
    const body = gzipSync(JSON.stringify({ probe_id: probeId, measurements: [makeMeasurement({ probeId, at: Date.now() - 60_000 })] }));
    const upload = await request(`${url}/api/v1/measurements`, { method: 'POST', headers: { ...signBatch(keys.privateKey, probeId, body, Date.now()) }, body });
    expect(upload.status).toBe(200);
    expect((upload.json() as BatchAnswer).results.map((r) => r.status)).toEqual(['accepted']);
    expect((await request(`${url}/healthz`)).status).toBe(200);
    // Everything over the per-address bound was closed by the collector at once.
    expect(silent.closed()).toBeGreaterThanOrEqual(FLOOD - CONNECTION_LIMITS.perAddress);
  });

  it('closes a connection that sends nothing after the idle bound', { timeout: 60_000 }, async () => {
    const { url } = await startCollectorProcess();
    const started = Date.now();
    const one = await flood(url, 1, '127.0.0.3');
    await expect.poll(() => one.closed(), { timeout: CONNECTION_LIMITS.idleMs + 10_000, interval: 250 }).toBe(1);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(CONNECTION_LIMITS.headersMs - 1000);
    expect(waited).toBeLessThan(CONNECTION_LIMITS.idleMs + 5000);
  });
});
