// The revision outbox over a real events.sqlite: seq order, durable cursor across restarts, wake-ups, backoff, refusals, clamping, stop.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../common/clock.js';
import { OutboxCursorError, RevisionOutbox, type OutboxLog, type RevisionOutboxOptions, type RevisionSend, type SendOutcome } from '../collector/events/outbox.js';
import type { Revision } from '../collector/events/types.js';
import { openedRevisions, tempEventStore, type TempEventStore } from './fixtures/events/revisions.js';

const quiet: OutboxLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
const stores: TempEventStore[] = [];
const outboxes: RevisionOutbox[] = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(outboxes.splice(0).map((o) => o.stop()));
  await Promise.all(stores.splice(0).map((s) => s.dispose()));
});

async function store(): Promise<TempEventStore> {
  const s = await tempEventStore();
  stores.push(s);
  return s;
}

function outbox(t: TempEventStore, send: RevisionSend, o: Partial<RevisionOutboxOptions> = {}): RevisionOutbox {
  const box = new RevisionOutbox({ name: 'test', store: t.store, send, clock: systemClock, log: quiet, pollMs: 10, initialRetryDelayMs: 5, maxRetryDelayMs: 40, ...o });
  outboxes.push(box);
  return box;
}

/** A send that records the seqs it is given and answers `answer` (default: delivered). */
function recorder(answer: (batch: readonly Revision[], call: number) => SendOutcome | Promise<SendOutcome> = () => ({ ok: true })) {
  const calls: number[][] = [];
  const send: RevisionSend = async (batch) => {
    calls.push(batch.map((r) => r.seq));
    return answer(batch, calls.length - 1);
  };
  return { calls, send, delivered: () => calls.flat() };
}

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('RevisionOutbox', () => {
  it('delivers every revision once, in seq order and batches, and a restart resends none of them', async () => {
    const t = await store();
    const revisions = openedRevisions(25);
    t.save(revisions.slice(0, 10));
    const r = recorder();
    const box = outbox(t, r.send, { batchSize: 4 });
    await box.start();
    await until(() => box.stats().cursor === 10);
    expect(r.calls).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]);
    t.save(revisions.slice(10, 15));
    box.notify();
    await until(() => box.stats().cursor === 15);
    await box.stop();
    expect(t.store.meta('outbox:test')).toBe('15');

    // A restart: the cursor is read back, only what came after it is sent.
    t.reopen();
    t.save(revisions.slice(15));
    const again = recorder();
    const box2 = outbox(t, again.send, { batchSize: 4 });
    expect(box2.backlog()).toBe(25); // not started: no cursor loaded yet
    await box2.start();
    await until(() => box2.stats().cursor === 25);
    expect(again.delivered()).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    expect([...r.delivered(), ...again.delivered()]).toEqual(revisions.map((x) => x.seq));
    expect(box2.stats()).toMatchObject({ backlog: 0, delivered: 10, refused: 0, failedAttempts: 0 });
  });

  it('is woken by notify() long before its poll, and polls when nobody tells it', async () => {
    const t = await store();
    const r = recorder();
    const box = outbox(t, r.send, { pollMs: 60_000 });
    await box.start();
    const revisions = openedRevisions(2);
    t.save(revisions.slice(0, 1));
    box.notify();
    await until(() => r.delivered().length === 1, 1000);

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const p = recorder();
    const box2 = new RevisionOutbox({ name: 'polled', store: t.store, send: p.send, clock: systemClock, log: quiet, pollMs: 60_000 });
    outboxes.push(box2);
    await box2.start();
    await vi.advanceTimersByTimeAsync(1);
    expect(p.delivered()).toEqual([1]);
    t.save(revisions.slice(1));
    await vi.advanceTimersByTimeAsync(59_000);
    expect(p.delivered()).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1_100);
    expect(p.delivered()).toEqual([1, 2]);
  });

  it('retries a failing receiver with capped exponential backoff and jitter, keeping the order, and a notify does not cut the wait short', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const t = await store();
    t.save(openedRevisions(3));
    const attempts: number[] = [];
    const r = recorder((batch, call) => {
      attempts.push(Date.now());
      return call < 6 ? { ok: false, retry: true, message: 'HTTP 503' } : { ok: true };
    });
    const box = outbox(t, r.send, { batchSize: 1, initialRetryDelayMs: 1000, maxRetryDelayMs: 8000, random: () => 0.5, pollMs: 100_000 });
    const t0 = Date.now();
    await box.start();
    for (let i = 0; i < 10; i++) {
      box.notify();
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(60_000);
    // Steps 1, 2, 4, 8, 8, 8 s, each three quarters of it with random 0.5 ("equal jitter").
    expect(attempts.slice(0, 7).map((a, i, all) => (i === 0 ? a - t0 : a - all[i - 1]!))).toEqual([0, 750, 1500, 3000, 6000, 6000, 6000]);
    expect(r.calls).toEqual([[1], [1], [1], [1], [1], [1], [1], [2], [3]]);
    expect(box.stats()).toMatchObject({ cursor: 3, failedAttempts: 6, lastError: null, failingSince: null });
  });

  it('honours a Retry-After longer than its own delay, up to the cap', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const t = await store();
    t.save(openedRevisions(1));
    const attempts: number[] = [];
    const r = recorder((_b, call) => {
      attempts.push(Date.now());
      return call === 0 ? { ok: false, retry: true, message: 'HTTP 429', retryAfterMs: 5000 } : { ok: true };
    });
    const box = outbox(t, r.send, { initialRetryDelayMs: 100, maxRetryDelayMs: 20_000, random: () => 0 });
    await box.start();
    await vi.advanceTimersByTimeAsync(4_900);
    expect(attempts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(attempts).toHaveLength(2);
    expect(box.stats().cursor).toBe(1);
  });

  it('sends a refused batch again one revision at a time and skips only the refused one', async () => {
    const t = await store();
    t.save(openedRevisions(5));
    const errors: string[] = [];
    const r = recorder((batch) => (batch.some((x) => x.seq === 3) ? { ok: false, retry: false, message: 'HTTP 400: bad' } : { ok: true }));
    const box = outbox(t, r.send, { batchSize: 5, log: { ...quiet, error: (m) => errors.push(m) } });
    await box.start();
    await until(() => box.stats().cursor === 5);
    expect(r.calls).toEqual([[1, 2, 3, 4, 5], [1], [2], [3], [4], [5]]);
    expect(box.stats()).toMatchObject({ delivered: 4, refused: 1, failedAttempts: 0 });
    expect(errors.join('\n')).toContain('revision 3 (event ev-2) refused by the receiver, skipped: HTTP 400: bad');
  });

  it('retries a send that throws (a bug) instead of skipping it', async () => {
    const t = await store();
    t.save(openedRevisions(1));
    const r = recorder((_b, call) => {
      if (call < 2) throw new Error('boom');
      return { ok: true };
    });
    const box = outbox(t, r.send);
    await box.start();
    await until(() => box.stats().cursor === 1);
    expect(r.calls).toEqual([[1], [1], [1]]);
    expect(box.stats().failedAttempts).toBe(2);
  });

  it('clamps a cursor past the store (revisions dropped after a crash) and delivers the remade ones; rewindTo moves it back', async () => {
    const t = await store();
    const revisions = openedRevisions(6);
    t.save(revisions.slice(0, 4));
    t.store.setMeta('outbox:test', '9');
    const warnings: string[] = [];
    const r = recorder();
    const box = outbox(t, r.send, { log: { ...quiet, warn: (m) => warnings.push(m) } });
    await box.start();
    expect(box.stats().cursor).toBe(4);
    expect(t.store.meta('outbox:test')).toBe('4');
    expect(warnings.join('\n')).toContain('cursor 9 is past');
    t.save(revisions.slice(4));
    box.notify();
    await until(() => box.stats().cursor === 6);
    expect(r.delivered()).toEqual([5, 6]);
    await box.stop();

    const again = recorder();
    const box2 = outbox(t, again.send);
    box2.rewindTo(2);
    box2.rewindTo(5); // never forward
    expect(t.store.meta('outbox:test')).toBe('2');
    await box2.start();
    expect(() => box2.rewindTo(0)).toThrow(/only while stopped/);
    await until(() => box2.stats().cursor === 6);
    expect(again.delivered()).toEqual([3, 4, 5, 6]);
  });

  it('refuses a cursor that is not a number', async () => {
    const t = await store();
    t.store.setMeta('outbox:test', 'seven');
    const box = outbox(t, recorder().send);
    await expect(box.start()).rejects.toBeInstanceOf(OutboxCursorError);
    await expect(box.start()).rejects.toMatchObject({ code: 'ASHYQ_ERR_OUTBOX_CURSOR' });
  });

  it('stop() awaits the send under way and saves its cursor, then retries nothing', async () => {
    const t = await store();
    t.save(openedRevisions(2));
    let release!: () => void;
    const r = recorder(
      (_b, call) =>
        call === 0 ? new Promise<SendOutcome>((resolve) => (release = () => resolve({ ok: true }))) : { ok: false, retry: true, message: 'down' },
    );
    const box = outbox(t, r.send, { batchSize: 1 });
    await box.start();
    await until(() => r.calls.length === 1);
    let stopped = false;
    const stopping = box.stop().then(() => (stopped = true));
    await new Promise((res) => setTimeout(res, 20));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(t.store.meta('outbox:test')).toBe('1');
    const calls = r.calls.length;
    await new Promise((res) => setTimeout(res, 30));
    expect(r.calls.length).toBe(calls);
    expect(calls).toBeLessThanOrEqual(2);
  });
});
