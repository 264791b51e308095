// The event webhook against a real HTTP receiver on 127.0.0.1 that checks the signature: order, outages, refusals, and a collector restart.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { RevisionOutbox, type OutboxLog } from '../collector/events/outbox.js';
import { Webhook, webhookOutcome, webhookPayload, webhookSignature } from '../collector/events/webhook.js';
import type { Measurement } from '../contract/measurement.js';
import type { BatchAnswer } from '../contract/wire.js';
import { makeMeasurement, request, startCollector, T0, tempDir, type RunningCollector, type TestProbe } from './fixtures/collector/helpers.js';
import { E0, HOUR, makeEvent, RevisionLog, tempEventStore, type TempEventStore } from './fixtures/events/revisions.js';

const SECRET = 'a-webhook-secret-0123456789';
const quiet: OutboxLog = { info: () => undefined, warn: () => undefined, error: () => undefined };
const cleanup: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

interface Received {
  seq: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  signatureValid: boolean;
}

/** An HTTP receiver on 127.0.0.1 that verifies the signature as docs/api.md tells receivers to, and answers `answer` (default 204). */
class Receiver {
  readonly received: Received[] = [];
  answer: (r: Received) => number = () => 204;
  private server: http.Server | null = null;
  port = 0;

  static async start(): Promise<Receiver> {
    const r = new Receiver();
    await r.listen();
    cleanup.push(() => r.close());
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/ashyq`;
  }

  /** Accepted deliveries' seqs, in arrival order. */
  accepted(): number[] {
    return this.received.filter((r) => r.signatureValid && this.statusOf(r) < 300).map((r) => r.seq);
  }

  private statuses = new Map<Received, number>();
  private statusOf(r: Received): number {
    return this.statuses.get(r) ?? 0;
  }

  listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const timestamp = String(req.headers['x-ashyq-timestamp'] ?? '');
        const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(`${timestamp}.${raw}`).digest('hex')}`);
        const given = Buffer.from(String(req.headers['x-ashyq-signature'] ?? ''));
        const signatureValid = given.length === expected.length && timingSafeEqual(given, expected);
        const r: Received = { seq: Number(req.headers['x-ashyq-event-seq']), headers: req.headers, body: JSON.parse(raw) as Record<string, unknown>, signatureValid };
        this.received.push(r);
        const status = signatureValid ? this.answer(r) : 401;
        this.statuses.set(r, status);
        res.writeHead(status, { connection: 'close' }).end(status >= 300 ? 'no' : '');
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Stop answering (connections refused) until listen() again. */
  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
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
    const receiver = await Receiver.start();
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
    const receiver = await Receiver.start();
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
    const receiver = await Receiver.start();
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
    const receiver = await Receiver.start();
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

describe('webhook in the collector', () => {
  /** Three probes on AS9198: YouTube's TLS reset from 8 h to 4 h before T0 (see events-collector.test.ts). */
  function fleet(probes: TestProbe[]): Map<string, Measurement[]> {
    const byProbe = new Map<string, Measurement[]>();
    probes.forEach((p, i) => {
      const list: Measurement[] = [];
      for (let t = T0 - 14 * HOUR + i * 60_000; t < T0; t += 30 * 60_000) {
        const blocked = t >= T0 - 8 * HOUR && t < T0 - 4 * HOUR;
        list.push(makeMeasurement({ probeId: p.id, at: t, verdict: blocked ? 'tls.reset' : 'ok' }));
        list.push(makeMeasurement({ probeId: p.id, at: t + 1000, target: { id: 'canary-kz', category: 'canary' } }));
      }
      byProbe.set(p.id, list);
    });
    return byProbe;
  }

  it('POSTs the revisions of an event found from uploads, counts them in /metrics, and a restart resends none', async () => {
    const receiver = await Receiver.start();
    const dir = await tempDir();
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const events = { interval_minutes: 30, min_probe_history_hours: 2, webhook: { url: receiver.url, secret: SECRET } };
    const deps = { outbox: { pollMs: 20, initialRetryDelayMs: 10, maxRetryDelayMs: 50 } };
    const data = path.join(dir, 'data');
    const c: RunningCollector = await startCollector({ dir: data, events, deps });
    let stopped = false;
    cleanup.push(() => (stopped ? undefined : c.stop()));
    const probes = [await c.register(), await c.register(), await c.register()];
    const byProbe = fleet(probes);
    for (const p of probes) {
      const answer = (await c.post(p, byProbe.get(p.id)!)).json() as BatchAnswer;
      expect(answer.results.every((r) => r.status === 'accepted')).toBe(true);
      c.clock.advance(1);
    }
    const last = c.collector.eventStore.lastSeq();
    expect(last).toBeGreaterThanOrEqual(2);
    await until(() => c.collector.webhook?.stats().cursor === last);
    expect(receiver.accepted()).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    const youtube = receiver.received.filter((r) => (r.body['event'] as { series: string }).series === 'youtube/AS9198/tls');
    expect(youtube[0]!.body['type']).toBe('opened');
    expect((youtube.at(-1)!.body['event'] as { status: string }).status).toBe('closed');
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);

    const metrics = (await request(`${c.url}/metrics`)).text;
    const opened = receiver.received.filter((r) => r.body['type'] === 'opened').length;
    expect(metrics).toMatch(/^ashyq_events_open 0$/m);
    expect(metrics).toMatch(new RegExp(`^ashyq_event_revisions_total\\{type="opened"\\} ${opened}$`, 'm'));
    expect(metrics).toMatch(/^ashyq_webhook_backlog 0$/m);
    expect(metrics).toMatch(/^ashyq_webhook_failures_total\{reason="error"\} 0$/m);
    await c.stop();
    stopped = true;

    // A restart: nothing delivered before is sent again.
    const count = receiver.received.length;
    const again = await startCollector({ dir: data, events, deps });
    cleanup.push(() => again.stop());
    expect(again.collector.webhook?.stats().cursor).toBe(last);
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.received.length).toBe(count);
    expect(again.collector.webhook?.stats()).toMatchObject({ backlog: 0, delivered: 0 });
  });
});
