// A run that shows packet loss measures again, before judging, the targets that failed in a way loss can fake.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../probe/deps.js';
import { runTargets } from '../probe/engine/run.js';
import type { ProgressEvent } from '../probe/engine/options.js';
import type { ScenarioCase } from './loopback/scenario.js';
import { addressOf, buildWorld, CANARIES, startLab, type Lab, type World } from './loopback/world.js';

const timeoutMs = 1500;
const universe = ['www.youtube.com', ...CANARIES.flatMap((t) => t.domains)];

let lab: Lab;
beforeAll(async () => {
  lab = await startLab(universe);
});
afterAll(async () => {
  await lab?.close();
});

/**
 * The world's network with a lossy line: the first connect to each canary is held back 1.1 s (its SYN
 * lost once, then retransmitted), and the first `lostToTarget` connects to YouTube never complete.
 */
function lossy(world: World, lostToTarget: number): { deps: Deps; dials: string[] } {
  const network = world.deps.network;
  const youtube = addressOf('www.youtube.com', lab.universe);
  const canaries = new Set(CANARIES.flatMap((t) => t.domains).map((d) => addressOf(d, lab.universe)));
  const seen = new Map<string, number>();
  const dials: string[] = [];
  const dialTcp: typeof network.dialTcp = async (ip, port, signal) => {
    const n = (seen.get(ip) ?? 0) + 1;
    seen.set(ip, n);
    dials.push(ip);
    if (ip === youtube && n <= lostToTarget) {
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    }
    if (canaries.has(ip) && n === 1) await new Promise((r) => setTimeout(r, 1100));
    return network.dialTcp(ip, port, signal);
  };
  return { deps: { ...world.deps, network: { ...network, dialTcp } }, dials };
}

const honest: ScenarioCase = { name: 'honest', target: { id: 'youtube', domains: ['www.youtube.com'] }, censor: {}, expect: { verdict: 'ok' } };

describe('runTargets on a lossy line', () => {
  it('a connect lost once is measured again and found working: ok, with the first attempt kept beside it', async () => {
    const world = await buildWorld(lab, honest, { timeoutMs, listenWindowMs: 50 });
    try {
      const { deps, dials } = lossy(world, 1);
      const events: ProgressEvent[] = [];
      const ms = await runTargets(world.targets, { ...world.options, onProgress: (e) => events.push(e) }, deps);
      const yt = ms.find((m) => m.target.id === 'youtube')!;
      expect(yt.evidence.line?.loss, JSON.stringify(yt.evidence.line)).not.toBe('none');
      expect(yt.evidence.line?.slow_connects).toBe(2);
      expect(yt.evidence.first?.tcp.map((t) => t.failure)).toEqual(['generic_timeout_error']);
      expect(yt.evidence.tcp.map((t) => t.failure)).toEqual([null]);
      expect(yt.verdict.verdict).toBe('ok');
      expect(yt.verdict.reason).toMatch(/^measured again: the first attempt found tcp\.timeout/);
      expect(events.filter((e) => e.type === 'remeasure').map((e) => (e.type === 'remeasure' ? e.targets.map((t) => t.id) : []))).toEqual([['youtube']]);
      // Only YouTube was measured again; the canaries, which worked, were not.
      expect(ms.filter((m) => m.evidence.first !== undefined).map((m) => m.target.id)).toEqual(['youtube']);
      expect(dials.filter((ip) => ip === addressOf('www.youtube.com', lab.universe)).length).toBeGreaterThanOrEqual(2);
    } finally {
      await world.close();
    }
  });

  it('a blackhole measured through the loss fails again: still tcp.timeout, with a lower confidence and the loss named', async () => {
    const blackholed: ScenarioCase = { ...honest, censor: { tcp: { 'www.youtube.com': 'blackhole' } }, expect: { verdict: 'tcp.timeout' } };
    const world = await buildWorld(lab, blackholed, { timeoutMs, listenWindowMs: 50 });
    try {
      const ms = await runTargets(world.targets, world.options, lossy(world, 0).deps);
      const yt = ms.find((m) => m.target.id === 'youtube')!;
      expect(yt.evidence.first?.tcp.map((t) => t.failure)).toEqual(['generic_timeout_error']);
      expect(yt.verdict.verdict).toBe('tcp.timeout');
      expect(yt.verdict.confidence).toBeLessThan(0.8);
      expect(yt.verdict.reason).toMatch(/found again when measured a second time/);
      expect(yt.verdict.reason).toMatch(/the line lost packets in this run/);
    } finally {
      await world.close();
    }
  });

  it('on a clean line a blackholed target is judged at once, not measured again', async () => {
    const blackholed: ScenarioCase = { ...honest, censor: { tcp: { 'www.youtube.com': 'blackhole' } }, expect: { verdict: 'tcp.timeout' } };
    const world = await buildWorld(lab, blackholed, { timeoutMs, listenWindowMs: 50 });
    try {
      const ms = await runTargets(world.targets, world.options, world.deps);
      const yt = ms.find((m) => m.target.id === 'youtube')!;
      expect(yt.evidence.line?.loss).toBe('none');
      expect(yt.evidence.first).toBeUndefined();
      expect([yt.verdict.verdict, yt.verdict.confidence]).toEqual(['tcp.timeout', 0.8]);
    } finally {
      await world.close();
    }
  });
});
