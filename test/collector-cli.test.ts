// The ashyq-collector command line: help, usage and config errors, serve (with a generated token) and reindex.
import { readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import { signBatch } from '../contract/wire.js';
import { makeMeasurement, newKeyPair, request, TARGETS_FILE, tempDir } from './fixtures/collector/helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } },
  };
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function waitFor<T>(f: () => T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('ashyq-collector', () => {
  it('prints help and refuses bad usage and bad config with exit code 2', async () => {
    const a = capture();
    expect(await main(['--help'], a.io)).toBe(0);
    expect(a.out.join('')).toContain('Usage: ashyq-collector <command> [--config FILE]');
    const b = capture();
    expect(await main(['frobnicate'], b.io)).toBe(2);
    expect(b.err.join('')).toContain('unknown command frobnicate');
    const c = capture();
    expect(await main([], c.io)).toBe(2);
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, 'listen:\n  hots: 1.2.3.4\n');
    const d = capture();
    expect(await main(['serve', '--config', file], d.io)).toBe(2);
    expect(d.err.join('')).toContain(`${file}:2: listen.hots: unknown key`);
  });

  it('serves with a generated enrollment token kept in the data dir, and stops on its signal', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'collector.yaml');
    await writeFile(file, `data_dir: data\nlisten: { host: 127.0.0.1, port: 0 }\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n`);
    const run = async () => {
      const cap = capture();
      const stop = new AbortController();
      const done = main(['serve', '--config', file], { ...cap.io, env: {}, signal: stop.signal, deps: { asnLookup: () => null, log: false } });
      const url = await waitFor(() => /listening on (\S+)/.exec(cap.out.join(''))?.[1]);
      const health = await request(`${url}/healthz`);
      stop.abort();
      expect(await done).toBe(0);
      return { cap, health };
    };
    const first = await run();
    expect(first.health.status).toBe(200);
    const token = (await readFile(path.join(dir, 'data', 'enrollment-token'), 'utf8')).trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(first.cap.out.join('')).toContain(`generated an enrollment token (kept in ${path.join(dir, 'data', 'enrollment-token')}):\n  ${token}\n`);
    const second = await run();
    expect(second.cap.out.join('')).not.toContain('generated');
    expect(second.cap.out.join('')).toContain('stopped');
  });

  it('feeds the InfluxDB sink when influx is configured (a fake write API on 127.0.0.1)', async () => {
    const writes: Array<{ url: string; body: string }> = [];
    const fake = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        writes.push({ url: req.url ?? '', body: Buffer.concat(chunks).toString() });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const influxPort = (fake.address() as { port: number }).port;
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'collector.yaml');
    await writeFile(
      file,
      `data_dir: data\nlisten: { host: 127.0.0.1, port: 0 }\nenrollment_tokens: [cli-test-token-0123456789]\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n` +
        `influx: { url: "http://127.0.0.1:${influxPort}", token: t, org: o, bucket: b }\n`,
    );
    const cap = capture();
    const stop = new AbortController();
    const done = main(['serve', '--config', file], { ...cap.io, env: {}, signal: stop.signal, deps: { asnLookup: () => null, log: false } });
    try {
      const url = await waitFor(() => /listening on (\S+)/.exec(cap.out.join(''))?.[1]);
      const keys = newKeyPair();
      const reg = await request(`${url}/api/v1/probes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ enrollment_token: 'cli-test-token-0123456789', public_key: keys.publicKeyPem }),
      });
      const id = (reg.json() as { probe_id: string }).probe_id;
      const now = Date.now();
      const body = gzipSync(JSON.stringify({ probe_id: id, measurements: [makeMeasurement({ probeId: id, at: now - 1000 })] }));
      const res = await request(`${url}/api/v1/measurements`, { method: 'POST', headers: { ...signBatch(keys.privateKey, id, body, now) }, body });
      expect(res.status).toBe(200);
      const write = await waitFor(() => writes.find((w) => w.body.includes('youtube')));
      expect(write.url).toMatch(/^\/api\/v2\/write\?/);
      expect(write.url).toContain('bucket=b');
    } finally {
      stop.abort();
      expect(await done).toBe(0);
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  it('refuses a reindex (and a second server) while a server owns the data dir, and reindexes once it stopped', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'collector.yaml');
    await writeFile(file, `data_dir: data\nlisten: { host: 127.0.0.1, port: 0 }\nenrollment_tokens: [cli-test-token-0123456789]\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n`);
    const cap = capture();
    const stop = new AbortController();
    const done = main(['serve', '--config', file], { ...cap.io, env: {}, signal: stop.signal, deps: { asnLookup: () => null, log: false } });
    try {
      await waitFor(() => /listening on (\S+)/.exec(cap.out.join(''))?.[1]);
      for (const command of ['reindex', 'serve']) {
        const other = capture();
        expect(await main([command, '--config', file], { ...other.io, env: {}, deps: { asnLookup: () => null, log: false } }), command).toBe(1);
        expect(other.err.join(''), command).toContain(`${path.join(dir, 'data')}: another ashyq-collector (serve or reindex) is running with this directory`);
      }
    } finally {
      stop.abort();
      expect(await done).toBe(0);
    }
    const after = capture();
    expect(await main(['reindex', '--config', file], after.io)).toBe(0);
    expect(after.out.join('')).toContain('reindexed 0 archived records');
  });

  it('runs reindex on an empty data dir', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'collector.yaml');
    await writeFile(file, `data_dir: ${JSON.stringify(dir)}\n`);
    const cap = capture();
    expect(await main(['reindex', '--config', file], cap.io)).toBe(0);
    expect(cap.out.join('')).toContain('reindexed 0 archived records, 0 distinct measurements');
  });
});
