// Tests of the TCP measurement against real loopback sockets: ok, refused, reset, blackhole timeout, abort.
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemNetwork, type Deps } from '../probe/deps.js';
import { systemClock, type Clock } from '../common/clock.js';
import { InvalidArgumentError } from '../common/errors.js';
import { measureTcp } from '../probe/measure/tcp.js';
import { listenLoopback } from './fakes/listener.js';
import { loopbackNetwork } from './fakes/loopback-network.js';
import { refusedPort, startBlackhole, startResetListener, startSilentListener } from './fakes/tcp-censor.js';

const YT = '142.250.74.110';
const closers: { close(): Promise<void> }[] = [];
function track<T extends { close(): Promise<void> }>(thing: T): T {
  closers.push(thing);
  return thing;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(closers.splice(0).map((c) => c.close()));
});

function depsFor(map: Record<string, number>, clock: Clock = systemClock) {
  const network = loopbackNetwork(map);
  return { network, clock } satisfies Deps;
}

describe('measureTcp', () => {
  it('connects, records the RTT and closes the connection', async () => {
    const server = track(await startSilentListener());
    const deps = depsFor({ [`${YT}:443`]: server.port });
    const obs = await measureTcp({ ip: YT, port: 443, domain: 'www.youtube.com' }, { timeoutMs: 2000 }, deps);
    expect(obs).toMatchObject({
      domain: 'www.youtube.com',
      ip: YT,
      port: 443,
      failure: null,
      operation: null,
      error: null,
    });
    expect(obs.rtt_ms).toBeGreaterThanOrEqual(0);
    expect(deps.network.dials).toEqual([`${YT}:443`]);
    await vi.waitFor(() => expect(server.connections()).toBe(0));
  });

  it('takes the RTT from the injected monotonic clock', async () => {
    const server = track(await startSilentListener());
    const ticks = [1000, 1042.5];
    const clock: Clock = { now: () => 0, monotonic: () => ticks.shift() ?? 9999 };
    const obs = await measureTcp({ ip: YT, port: 443, domain: null }, { timeoutMs: 2000 }, depsFor({ [`${YT}:443`]: server.port }, clock));
    expect(obs.rtt_ms).toBe(42.5);
    expect(obs.domain).toBeNull();
  });

  it('works over the system network to a loopback listener', async () => {
    const server = track(await startSilentListener());
    const obs = await measureTcp({ ip: '127.0.0.1', port: server.port, domain: null }, { timeoutMs: 2000 }, {
      network: systemNetwork(),
      clock: systemClock,
    });
    expect(obs.failure).toBeNull();
  });

  it('records connection_refused for a closed port', async () => {
    const port = await refusedPort();
    const obs = await measureTcp({ ip: YT, port: 80, domain: 'youtube.com' }, { timeoutMs: 2000 }, depsFor({ [`${YT}:80`]: port }));
    expect(obs).toMatchObject({ failure: 'connection_refused', operation: 'connect', rtt_ms: null });
    expect(obs.error).toMatch(/ECONNREFUSED/);
  });

  it('records connection_reset when the peer resets right after the handshake', async () => {
    const server = track(await startResetListener());
    const obs = await measureTcp({ ip: YT, port: 443, domain: 'youtube.com' }, { timeoutMs: 2000 }, depsFor({ [`${YT}:443`]: server.port }));
    // The RST may beat the connect notification (dial fails) or follow it (seen while closing).
    expect(obs).toMatchObject({ failure: 'connection_reset', operation: 'connect' });
    expect(obs.error).toMatch(/ECONNRESET/);
    expect(server.resets()).toBe(1);
  });

  it('never dials an unmapped address', async () => {
    const deps = depsFor({});
    const obs = await measureTcp({ ip: '149.154.167.51', port: 443, domain: null }, { timeoutMs: 2000 }, deps);
    expect(obs).toMatchObject({ failure: 'connection_refused', operation: 'connect' });
    expect(deps.network.dials).toEqual(['149.154.167.51:443']);
  });

  it('times out for real against a blackhole', async () => {
    const hole = track(await startBlackhole());
    const started = performance.now();
    const obs = await measureTcp({ ip: YT, port: 443, domain: 'youtube.com' }, { timeoutMs: 300 }, depsFor({ [`${YT}:443`]: hole.port }));
    const elapsed = performance.now() - started;
    expect(obs).toMatchObject({ failure: 'generic_timeout_error', operation: 'connect', rtt_ms: null });
    expect(obs.error).toMatch(/timed out after 300 ms/);
    expect(elapsed).toBeGreaterThanOrEqual(290);
  });

  it('fires the connect timeout exactly at timeoutMs (fake timers)', async () => {
    const hole = track(await startBlackhole());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let settled = false;
    const pending = measureTcp({ ip: YT, port: 443, domain: null }, { timeoutMs: 10_000 }, depsFor({ [`${YT}:443`]: hole.port })).finally(
      () => {
        settled = true;
      },
    );
    await vi.advanceTimersByTimeAsync(9_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const obs = await pending;
    expect(obs.failure).toBe('generic_timeout_error');
  });

  it('rejects with the abort reason and leaves no socket behind', async () => {
    const hole = track(await startBlackhole());
    const controller = new AbortController();
    const reason = new Error('stop');
    const pending = measureTcp(
      { ip: YT, port: 443, domain: null },
      { timeoutMs: 10_000, signal: controller.signal },
      depsFor({ [`${YT}:443`]: hole.port }),
    );
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
  });

  /** A peer that keeps its side open after our FIN (half-open), so the probe lingers. */
  async function halfOpenPeer() {
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.resume();
    });
    const listener = track(await listenLoopback(server));
        // After a peer's FIN the server no longer reads, so a vanished peer only shows when a write fails (RST → EPIPE).
    const poke = () => sockets.forEach((s) => s.destroyed || s.write('are you there?'));
    return { listener, poke };
  }

  it('rejects with the abort reason while lingering on close, after destroying the socket', async () => {
    const { listener, poke } = await halfOpenPeer();
    const controller = new AbortController();
    const reason = new Error('ctrl-c');
    const pending = measureTcp(
      { ip: YT, port: 443, domain: null },
      { timeoutMs: 10_000, lingerMs: 10_000, signal: controller.signal },
      depsFor({ [`${YT}:443`]: listener.port }),
    );
    await vi.waitFor(() => expect(listener.connections()).toBe(1));
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    // Our socket is gone: data sent to it is answered with a RST and the server's connection closes.
    await vi.waitFor(() => {
      poke();
      expect(listener.connections()).toBe(0);
    });
  });

  it('gives up lingering after lingerMs, destroys the socket and still reports success', async () => {
    const { listener, poke } = await halfOpenPeer();
    const obs = await measureTcp({ ip: YT, port: 443, domain: null }, { timeoutMs: 2000, lingerMs: 100 }, depsFor({ [`${YT}:443`]: listener.port }));
    expect(obs.failure).toBeNull();
    expect(listener.connections()).toBe(1);
    await vi.waitFor(() => {
      poke();
      expect(listener.connections()).toBe(0);
    });
  });

  it('rejects at once when already aborted, and refuses a nonsense timeout', async () => {
    const controller = new AbortController();
    controller.abort(new Error('early'));
    await expect(measureTcp({ ip: YT, port: 443, domain: null }, { timeoutMs: 1000, signal: controller.signal }, depsFor({}))).rejects.toThrow(
      'early',
    );
    await expect(measureTcp({ ip: YT, port: 443, domain: null }, { timeoutMs: 0 }, depsFor({}))).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
