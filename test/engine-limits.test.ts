// Tests of the run's concurrency limits: the global bound, the per-host bound and the separate bound on handshakes.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RunLimits } from '../probe/engine/limits.js';

/** A task whose start is recorded and whose end the test decides. */
function gate(started: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    task: async () => {
      started.push(name);
      await done;
      return name;
    },
    release: () => release(),
  };
}

/** Let queued tasks start (p-queue starts them on microtasks). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('RunLimits', () => {
  it('runs at most handshakeConcurrency handshakes at once, in order', async () => {
    const limits = new RunLimits(10, 10, { concurrency: 2, holdMs: 60_000 });
    const started: string[] = [];
    const gates = ['a', 'b', 'c', 'd'].map((name) => gate(started, name));
    const results = gates.map((g, i) => limits.runHandshake(`192.0.2.${i}`, g.task));
    await settle();
    expect(started).toEqual(['a', 'b']);
    gates[0]!.release();
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    gates[1]!.release();
    gates[2]!.release();
    await settle();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    gates[3]!.release();
    await expect(Promise.all(results)).resolves.toEqual(['a', 'b', 'c', 'd']);
  });

  it('lets cheap steps through while handshakes wait for their own slots', async () => {
    const limits = new RunLimits(3, 10, { concurrency: 1, holdMs: 60_000 });
    const started: string[] = [];
    const h1 = gate(started, 'h1');
    const h2 = gate(started, 'h2');
    const c1 = gate(started, 'c1');
    const c2 = gate(started, 'c2');
    const all = [limits.runHandshake('192.0.2.1', h1.task), limits.runHandshake('192.0.2.2', h2.task)];
    await settle();
    all.push(limits.run('192.0.2.3', c1.task), limits.run(null, c2.task));
    await settle();
    // h2 waits for the one handshake slot without holding one of the 3 global slots.
    expect(started).toEqual(['h1', 'c1', 'c2']);
    h1.release();
    await settle();
    // h2 gets the handshake slot and the global slot h1 gave back (c1 and c2 still hold theirs).
    expect(started).toEqual(['h1', 'c1', 'c2', 'h2']);
    for (const g of [h2, c1, c2]) g.release();
    await expect(Promise.all(all)).resolves.toEqual(['h1', 'h2', 'c1', 'c2']);
  });

  it('keeps the global bound over handshakes and cheap steps together', async () => {
    const limits = new RunLimits(2, 10, { concurrency: 2, holdMs: 60_000 });
    const started: string[] = [];
    const c = gate(started, 'c');
    const h1 = gate(started, 'h1');
    const h2 = gate(started, 'h2');
    const all = [limits.run(null, c.task), limits.runHandshake('192.0.2.1', h1.task), limits.runHandshake('192.0.2.2', h2.task)];
    await settle();
    expect(started).toEqual(['c', 'h1']);
    c.release();
    await settle();
    expect(started).toEqual(['c', 'h1', 'h2']);
    h1.release();
    h2.release();
    await Promise.all(all);
  });

  it('bounds each host on its own, handshakes included', async () => {
    const limits = new RunLimits(10, 1, { concurrency: 10, holdMs: 60_000 });
    const started: string[] = [];
    const a = gate(started, 'a');
    const b = gate(started, 'b');
    const other = gate(started, 'other');
    const all = [limits.run('192.0.2.1', a.task), limits.runHandshake('192.0.2.1', b.task), limits.runHandshake('192.0.2.9', other.task)];
    await settle();
    expect(started).toEqual(['a', 'other']);
    a.release();
    await settle();
    expect(started).toEqual(['a', 'other', 'b']);
    b.release();
    other.release();
    await Promise.all(all);
  });

  it('without a handshake bound, handshakes share the global bound only', async () => {
    const limits = new RunLimits(3, 10);
    const started: string[] = [];
    const gates = ['a', 'b', 'c', 'd'].map((name) => gate(started, name));
    const all = gates.map((g, i) => limits.runHandshake(`192.0.2.${i}`, g.task));
    await settle();
    expect(started).toEqual(['a', 'b', 'c']);
    for (const g of gates) g.release();
    await Promise.all(all);
  });

  it('gives the handshake slot of a task still running after holdMs to the next (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const limits = new RunLimits(10, 10, { concurrency: 1, holdMs: 500 });
    const started: string[] = [];
    const stalled = gate(started, 'stalled');
    const next = gate(started, 'next');
    const results = [limits.runHandshake('192.0.2.1', stalled.task), limits.runHandshake('192.0.2.2', next.task)];
    await settle();
    expect(started).toEqual(['stalled']);
    await vi.advanceTimersByTimeAsync(499);
    expect(started).toEqual(['stalled']);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(['stalled', 'next']);
    next.release();
    stalled.release();
    await expect(Promise.all(results)).resolves.toEqual(['stalled', 'next']);
  });

  it('counts holdMs from the start of the task, not from the wait for a global slot (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const limits = new RunLimits(2, 10, { concurrency: 1, holdMs: 500 });
    const started: string[] = [];
    const cheap = [gate(started, 'c1'), gate(started, 'c2')];
    const h1 = gate(started, 'h1');
    const h2 = gate(started, 'h2');
    const all: Array<Promise<string>> = cheap.map((g) => limits.run(null, g.task));
    all.push(limits.runHandshake('192.0.2.1', h1.task), limits.runHandshake('192.0.2.2', h2.task));
    await settle();
    // h1 holds the handshake slot and waits for a global slot; its 500 ms have not begun.
    await vi.advanceTimersByTimeAsync(1000);
    expect(started).toEqual(['c1', 'c2']);
    for (const g of cheap) g.release();
    await settle();
    expect(started).toEqual(['c1', 'c2', 'h1']);
    await vi.advanceTimersByTimeAsync(500);
    expect(started).toEqual(['c1', 'c2', 'h1', 'h2']);
    h1.release();
    h2.release();
    await expect(Promise.all(all)).resolves.toEqual(['c1', 'c2', 'h1', 'h2']);
  });

  it('passes a failing task on and frees its slots', async () => {
    const limits = new RunLimits(1, 1, { concurrency: 1, holdMs: 60_000 });
    const fault = new Error('programming fault');
    await expect(limits.runHandshake('192.0.2.1', () => Promise.reject(fault))).rejects.toBe(fault);
    await expect(limits.runHandshake('192.0.2.1', async () => 'after')).resolves.toBe('after');
  });
  it('gives the global slot of a connect still pending after holdMs to the next step (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const limits = new RunLimits(1, 10, undefined, { holdMs: 1000, maxOpen: 4 });
    const started: string[] = [];
    const blackholed = gate(started, 'blackholed');
    const next = gate(started, 'next');
    const results = [limits.runConnect('192.0.2.1', blackholed.task), limits.runConnect('192.0.2.2', next.task)];
    await settle();
    expect(started).toEqual(['blackholed']);
    await vi.advanceTimersByTimeAsync(999);
    expect(started).toEqual(['blackholed']);
    await vi.advanceTimersByTimeAsync(1);
    expect(started).toEqual(['blackholed', 'next']);
    next.release();
    blackholed.release();
    await expect(Promise.all(results)).resolves.toEqual(['blackholed', 'next']);
  });

  it('keeps at most maxOpen connects open, those past holdMs included (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const limits = new RunLimits(1, 10, undefined, { holdMs: 1000, maxOpen: 2 });
    const started: string[] = [];
    const gates = ['a', 'b', 'c'].map((name) => gate(started, name));
    const results = gates.map((g, i) => limits.runConnect(`192.0.2.${i}`, g.task));
    await vi.advanceTimersByTimeAsync(5000);
    // a and b both passed holdMs; c waits for one of them to close, not for a global slot.
    expect(started).toEqual(['a', 'b']);
    const cheap = gate(started, 'cheap');
    const step = limits.run(null, cheap.task);
    await settle();
    expect(started).toEqual(['a', 'b', 'cheap']);
    cheap.release();
    gates[0]!.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['a', 'b', 'cheap', 'c']);
    for (const g of gates) g.release();
    await expect(Promise.all([...results, step])).resolves.toEqual(['a', 'b', 'c', 'cheap']);
  });
});
