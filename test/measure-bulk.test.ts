// Tests of the bulk read (throughput) over real loopback sockets: bounded by size and by time, rate from the injected clock.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Deps } from '../probe/deps.js';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import { measureBulk, type BulkOptions } from '../probe/measure/http.js';
import { loadTrust } from '../probe/trust.js';
import { startHttpServer } from './fakes/http-server.js';
import { loopbackNetwork } from './fakes/loopback-network.js';

const DOMAIN = 'abs.twimg.com';
const IP = '152.199.21.141';
const trust = loadTrust({ env: {} });
const closers: { close(): Promise<void> }[] = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(closers.splice(0).map((c) => c.close()));
});

function deps(port: number, clock: Clock = systemClock): Deps {
  return { network: loopbackNetwork({ [`${IP}:80`]: port }), clock };
}

function options(extra: Partial<BulkOptions> = {}): BulkOptions {
  return { timeoutMs: 3000, trust, maxBodyBytes: 256 * 1024, readForMs: 4000, ...extra };
}

const target = { url: `http://${DOMAIN}/static/bundle.js`, ip: IP, port: 80, domain: DOMAIN };

describe('measureBulk', () => {
  it('reads a whole resource and gives its rate', async () => {
    const server = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/javascript' });
      res.end(Buffer.alloc(50_000, 0x61));
    });
    closers.push(server);
    const obs = await measureBulk(target, options(), deps(server.port));
    expect(obs).toMatchObject({ status: 200, failure: null, body_length: 50_000, ended: 'complete' });
    expect(obs.body_ms).toBeGreaterThanOrEqual(0);
    expect(obs.rate_bps === null || obs.rate_bps > 0).toBe(true);
  });

  it('stops at its size bound without a failure', async () => {
    const server = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(300_000, 0x62));
    });
    closers.push(server);
    const obs = await measureBulk(target, options({ maxBodyBytes: 100_000 }), deps(server.port));
    expect(obs).toMatchObject({ status: 200, failure: null, operation: null, body_length: 100_000, ended: 'size' });
  });

  it('stops at its time bound without a failure; the rate is bytes over the time the body took (fake timers)', async () => {
    let sent = false;
    const server = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000000' });
      // 2000 bytes, then the throttle lets nothing more through within the bound.
      res.write(Buffer.alloc(2000, 0x63), () => {
        sent = true;
      });
    });
    closers.push(server);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const clock: Clock = { now: () => Date.now(), monotonic: () => Date.now() };
    const pending = measureBulk(target, options({ readForMs: 4000, timeoutMs: 8000 }), deps(server.port, clock));
    // (vi.waitFor would advance the fake clock; poll on real I/O turns instead.)
    while (!sent) await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    await vi.advanceTimersByTimeAsync(4000);
    const obs = await pending;
    expect(obs).toMatchObject({ status: 200, failure: null, body_length: 2000, ended: 'time', body_ms: 4000, rate_bps: 500 });
  });

  it('records a failure of the read as data', async () => {
    const server = await startHttpServer((req) => {
      req.socket.resetAndDestroy();
    });
    closers.push(server);
    const obs = await measureBulk(target, options(), deps(server.port));
    expect(obs).toMatchObject({ status: null, failure: 'connection_reset', operation: 'http_request', ended: 'failure', rate_bps: null });
  });
});
