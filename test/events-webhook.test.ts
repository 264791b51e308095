// The event webhook against a real HTTP receiver on 127.0.0.1 that checks the signature: payload, order, outages, refusals.
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { RevisionOutbox, type OutboxLog } from '../collector/events/outbox.js';
import { Webhook, webhookOutcome, webhookPayload, webhookSignature } from '../collector/events/webhook.js';
import { WebhookReceiver } from './services/webhook-receiver.js';
import { E0, HOUR, makeEvent, RevisionLog, tempEventStore, type TempEventStore } from './fixtures/events/revisions.js';

const SECRET = 'a-webhook-secret-0123456789';
const quiet: OutboxLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
const cleanup: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function startReceiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start(SECRET);
  cleanup.push(() => r.close());
  return r;
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An event opened, its start moved earlier by late data, then closed. */
function lifecycle(): RevisionLog {
  const log = new RevisionLog();
  const opened = makeEvent();
  log.revise('opened', opened, E0 + 30 * 60_000);
  log.revise('changed', { ...opened, start: E0 - HOUR, probe_count: 4 }, E0 + 60 * 60_000);
  log.revise('closed', { ...opened, start: E0 - HOUR, probe_count: 4, status: 'closed', end: E0 + 3 * HOUR }, E0 + 4 * HOUR);
  return log;
}

async function store(): Promise<TempEventStore> {
  const t = await tempEventStore();
  cleanup.push(() => t.dispose());
  return t;
}

function webhookOutbox(t: TempEventStore, url: string, o: { initialRetryDelayMs?: number; log?: OutboxLog } = {}): RevisionOutbox {
  const box = new RevisionOutbox({
    name: 'webhook',
    store: t.store,
    clock: systemClock,
    batchSize: 1,
    pollMs: 20,
    initialRetryDelayMs: o.initialRetryDelayMs ?? 10,
    maxRetryDelayMs: 80,
    send: new Webhook({ url, secret: SECRET, clock: systemClock, timeoutMs: 2000 }).send,
    log: o.log ?? quiet,
  });
  cleanup.push(() => box.stop());
  return box;
}

describe('webhook payload and signature', () => {
  it('carries the revision with ISO 8601 UTC times, and signs timestamp.body with HMAC-SHA256', () => {
    const [, changed, closed] = lifecycle().revisions;
    const p = webhookPayload(changed!);
    expect(p).toMatchObject({
      seq: 2,
      type: 'changed',
      event_id: changed!.event_id,
      revision: 2,
      at: '2024-05-09T08:00:00.000Z',
      changes: { start: { from: '2024-05-09T07:00:00.000Z', to: '2024-05-09T06:00:00.000Z' }, probe_count: { from: 3, to: 4 } },
      event: { start: '2024-05-09T06:00:00.000Z', end: null, status: 'open', targets: ['youtube'], asns: [9198] },
    });
    expect(Object.keys(p)).toEqual(['seq', 'type', 'event_id', 'revision', 'at', 'changes', 'event']);
    expect(webhookPayload(closed!).changes['end']).toEqual({ from: null, to: '2024-05-09T10:00:00.000Z' });
    expect(webhookPayload(closed!).event.end).toBe('2024-05-09T10:00:00.000Z');
    const body = JSON.stringify(p);
    expect(webhookSignature(SECRET, '1715238000', body)).toBe(`sha256=${createHmac('sha256', SECRET).update(`1715238000.${body}`).digest('hex')}`);
    expect(webhookSignature(SECRET, '1715238001', body)).not.toBe(webhookSignature(SECRET, '1715238000', body));
  });

  it('counts 2xx as delivered, 4xx (but 408 and 429) as refused, everything else as worth retrying', () => {
    const kind = (status: number) => {
      const o = webhookOutcome(status, '', null);
      return o.ok ? 'ok' : o.retry ? 'retry' : 'refused';
    };
    expect([200, 202, 204, 299].map(kind)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect([400, 401, 404, 410, 413, 422].map(kind)).toEqual(['refused', 'refused', 'refused', 'refused', 'refused', 'refused']);
    expect([408, 429, 500, 502, 503, 301, 100].map(kind)).toEqual(['retry', 'retry', 'retry', 'retry', 'retry', 'retry', 'retry']);
  });
});

describe('webhook through the outbox to a real receiver on 127.0.0.1', () => {
  it('delivers opened → changed → closed in order, signed, with the seq and timestamp headers', async () => {
    const receiver = await startReceiver();
    const t = await store();
    t.save(lifecycle().revisions);
    const box = webhookOutbox(t, receiver.url);
    const before = Math.floor(Date.now() / 1000);
    await box.start();
    await until(() => receiver.accepted().length === 3);
    expect(receiver.received.map((r) => [r.seq, r.body['type'], r.signatureValid])).toEqual([
      [1, 'opened', true],
      [2, 'changed', true],
      [3, 'closed', true],
    ]);
    for (const r of receiver.received) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.body['seq']).toBe(r.seq);
      const ts = Number(r.headers['x-ashyq-timestamp']);
      expect(ts).toBeGreaterThanOrEqual(before);
      expect(ts).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
      expect(r.headers['x-ashyq-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    }
    expect(receiver.received[2]!.body['event']).toMatchObject({ status: 'closed', start: '2024-05-09T06:00:00.000Z', end: '2024-05-09T10:00:00.000Z' });
  });

  it('a receiver signing with another secret sees a bad signature (the check can fail)', async () => {
    const receiver = await startReceiver();
    const t = await store();
    t.save(lifecycle().revisions.slice(0, 1));
    const box = new RevisionOutbox({
      name: 'webhook',
      store: t.store,
      clock: systemClock,
      batchSize: 1,
      pollMs: 20,
      initialRetryDelayMs: 10,
      maxRetryDelayMs: 20,
      send: new Webhook({ url: receiver.url, secret: 'another-secret-0123456789', clock: systemClock }).send,
      log: quiet,
    });
    cleanup.push(() => box.stop());
    await box.start();
    await until(() => box.stats().refused === 1);
    expect(receiver.received.map((r) => r.signatureValid)).toEqual([false]);
  });

  it('gets every revision once, in order, after being down for a while', async () => {
    const receiver = await startReceiver();
    await receiver.close(); // down: connections refused
    const t = await store();
    t.save(lifecycle().revisions.slice(0, 2));
    const warnings: string[] = [];
    const box = webhookOutbox(t, receiver.url, { log: { ...quiet, warn: (m) => warnings.push(m) } });
    await box.start();
    await until(() => box.stats().failedAttempts >= 3);
    expect(box.stats()).toMatchObject({ cursor: 0, backlog: 2 });
    expect(box.stats().lastError).toMatch(/ECONNREFUSED|fetch failed/);
    t.save(lifecycle().revisions.slice(2));
    box.notify();
    // Back up on the same port, answering 503 for a while, then taking them.
    let unavailable = 3;
    receiver.answer = () => (unavailable-- > 0 ? 503 : 204);
    await receiver.listen();
    await until(() => box.stats().cursor === 3);
    expect(receiver.accepted()).toEqual([1, 2, 3]);
    expect(receiver.received.map((r) => r.seq)).toEqual([1, 1, 1, 1, 2, 3]);
    expect(box.stats()).toMatchObject({ cursor: 3, backlog: 0, delivered: 3, lastError: null });
    expect(warnings.join('\n')).toMatch(/retrying with backoff/);
  });

  it('logs and skips a revision the receiver refuses (400), retries 429, and does not block the revisions after it', async () => {
    const receiver = await startReceiver();
    const t = await store();
    t.save(lifecycle().revisions);
    let throttled = false;
    receiver.answer = (r) => {
      if (r.seq === 1) return 400;
      if (r.seq === 2 && !throttled) {
        throttled = true;
        return 429;
      }
      return 204;
    };
    const errors: string[] = [];
    const box = webhookOutbox(t, receiver.url, { log: { ...quiet, error: (m) => errors.push(m) } });
    await box.start();
    await until(() => box.stats().cursor === 3);
    expect(receiver.received.map((r) => r.seq)).toEqual([1, 2, 2, 3]);
    expect(box.stats()).toMatchObject({ delivered: 2, refused: 1, failedAttempts: 1 });
    expect(errors.join('\n')).toContain('revision 1');
    expect(errors.join('\n')).toContain('HTTP 400: no');
  });
});
