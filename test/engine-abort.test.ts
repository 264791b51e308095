// Cancelling a run through its AbortSignal: the run rejects at once and leaves no socket open.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runTargets } from '../probe/engine/run.js';
import type { ScenarioCase } from './loopback/scenario.js';
import { buildWorld, CANARIES, startLab, type Lab } from './loopback/world.js';

const stalled: ScenarioCase = {
  name: 'a stalled handshake, cancelled',
  target: { id: 'stalled', domains: ['www.youtube.com'] },
  censor: { tls: { 'www.youtube.com': 'stall' } },
  expect: { verdict: 'tls.timeout' },
};
const blackholed: ScenarioCase = {
  name: 'a blackholed connect, cancelled',
  target: { id: 'blackholed', domains: ['twitter.com'] },
  censor: { tcp: { 'twitter.com': 'blackhole' } },
  expect: { verdict: 'tcp.timeout' },
};

let lab: Lab;
beforeAll(async () => {
  lab = await startLab(['www.youtube.com', 'twitter.com', ...CANARIES.flatMap((t) => t.domains)]);
});
afterAll(async () => {
  await lab?.close();
});

it('rejects a blackholed connect at once with the abort reason', async () => {
  const world = await buildWorld(lab, blackholed, { timeoutMs: 20_000, listenWindowMs: 50 });
  try {
    const controller = new AbortController();
    const started = performance.now();
    const run = runTargets(world.targets, { ...world.options, signal: controller.signal }, world.deps);
    setTimeout(() => controller.abort(new Error('interrupted')), 300);
    await expect(run).rejects.toThrow('interrupted');
    expect(performance.now() - started).toBeLessThan(5_000);
  } finally {
    await world.close();
  }
});

it('rejects a stalled handshake with the abort reason long before the step timeout and closes every connection', async () => {
  const world = await buildWorld(lab, stalled, { timeoutMs: 20_000, listenWindowMs: 50 });
  try {
    const controller = new AbortController();
    const options = { ...world.options, signal: controller.signal };
    const started = performance.now();
    const run = runTargets(world.targets, options, world.deps);
    // Wait until the stalled handshake is really under way, then cancel.
    while (lab.staller.connections() === 0) await new Promise((r) => setTimeout(r, 10));
    const reason = new Error('interrupted by the test');
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(5_000);
    const deadline = performance.now() + 2_000;
    // The server side sees the close a moment after the client destroyed its socket.
    while ((lab.staller.connections() > 0 || lab.honestTls.connections() > 0) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(lab.staller.connections()).toBe(0);
    expect(lab.honestTls.connections()).toBe(0);
  } finally {
    await world.close();
  }
});
