// Within a target each address moves through the layers on its own: an address the censor blackholes
// holds up nothing but itself, while the evidence keeps the order of a layer-by-layer run.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runTargets } from '../probe/engine/run.js';
import type { ScenarioCase } from './loopback/scenario.js';
import { addressOf, buildWorld, CANARIES, startLab, type Lab } from './loopback/world.js';

const timeoutMs = 3_000;
const universe = ['www.youtube.com', 'twitter.com', ...CANARIES.flatMap((t) => t.domains)];

let lab: Lab;
beforeAll(async () => {
  lab = await startLab(universe);
});
afterAll(async () => {
  await lab?.close();
});

it('reaches HTTP over a working address long before another address of the same target times out', async () => {
  const c: ScenarioCase = {
    name: 'one of two domains blackholed',
    target: { id: 'two-domains', domains: ['twitter.com', 'www.youtube.com'] },
    censor: { tcp: { 'twitter.com': 'blackhole' } },
    expect: { verdict: 'tcp.timeout' },
  };
  const world = await buildWorld(lab, c, { timeoutMs, listenWindowMs: 50 });
  const dials: Array<{ ip: string; port: number; at: number }> = [];
  const network = world.deps.network;
  const started = performance.now();
  const deps = {
    ...world.deps,
    network: {
      ...network,
      dialTcp: (ip: string, port: number, signal: AbortSignal) => {
        dials.push({ ip, port, at: performance.now() - started });
        return network.dialTcp(ip, port, signal);
      },
    },
  };
  try {
    const [m] = await runTargets(world.targets.slice(0, 1), world.options, deps);
    const youtube = addressOf('www.youtube.com', lab.universe);
    const twitter = addressOf('twitter.com', lab.universe);
    // The evidence: twitter.com's connects timed out; www.youtube.com went through TLS and HTTPS.
    expect(m!.evidence.tcp.map((t) => [t.domain, t.port, t.failure])).toEqual([
      ['twitter.com', 443, 'generic_timeout_error'],
      ['www.youtube.com', 443, null],
    ]);
    expect(m!.evidence.tls.map((t) => [t.ip, t.failure, t.trusted])).toEqual([[youtube, null, true]]);
    expect(m!.evidence.http.map((h) => [h.domain, h.failure])).toEqual([['www.youtube.com', null]]);
    // The order of events: the connect, the handshake's and the request's own connections to
    // www.youtube.com's address all came before twitter.com's connect gave up.
    const toYoutube443 = dials.filter((d) => d.ip === youtube && d.port === 443);
    expect(toYoutube443.length).toBe(3);
    expect(dials.filter((d) => d.ip === twitter).length).toBe(1);
    expect(Math.max(...toYoutube443.map((d) => d.at))).toBeLessThan(timeoutMs / 2);
    expect(m!.runtime_ms).toBeGreaterThanOrEqual(timeoutMs);
    // Each layer's time runs from its first step to its last, so HTTP's is that of one request.
    expect(m!.timing.tcp).toBeGreaterThanOrEqual(timeoutMs);
    expect(m!.timing.http).toBeLessThan(timeoutMs / 2);
  } finally {
    await world.close();
  }
});
