// Event revisions leaving the collector: the webhook and the InfluxDB event points wired from the config, /metrics, a clean restart and a crash.
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Measurement } from '../contract/measurement.js';
import type { BatchAnswer } from '../contract/wire.js';
import { makeMeasurement, request, startCollector, T0, tempDir, type RunningCollector, type StartOptions, type TestProbe } from './fixtures/collector/helpers.js';
import { V2WriteRecorder } from './services/v2-write-recorder.js';
import { WebhookReceiver } from './services/webhook-receiver.js';

const SECRET = 'a-webhook-secret-0123456789';
const HOUR = 3_600_000;
const cleanup: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Three probes on AS9198: YouTube's TLS reset from 8 h to 4 h before T0 (as in events-collector.test.ts). */
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

async function setup(): Promise<{ receiver: WebhookReceiver; influx: V2WriteRecorder; options: StartOptions; start: () => Promise<RunningCollector> }> {
  const receiver = await WebhookReceiver.start(SECRET);
  cleanup.push(() => receiver.close());
  const influx = await V2WriteRecorder.start();
  cleanup.push(() => influx.close());
  const dir = await tempDir();
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const options: StartOptions = {
    dir: path.join(dir, 'data'),
    events: { interval_minutes: 30, min_probe_history_hours: 2, webhook: { url: receiver.url, secret: SECRET } },
    influx: { url: influx.url, token: 'tok', org: 'ashyq', bucket: 'reachability' },
    // A poll far off: revisions leave when the detector tells the outboxes.
    deps: { outbox: { pollMs: 600_000, initialRetryDelayMs: 10, maxRetryDelayMs: 50 } },
  };
  const start = async () => {
    const c = await startCollector(options);
    let stopped = false;
    const stop = c.stop.bind(c);
    c.stop = async () => {
      stopped = true;
      await stop();
    };
    cleanup.push(() => (stopped ? undefined : c.stop()));
    return c;
  };
  return { receiver, influx, options, start };
}

async function upload(c: RunningCollector): Promise<void> {
  const probes = [await c.register(), await c.register(), await c.register()];
  const byProbe = fleet(probes);
  for (const p of probes) {
    const answer = (await c.post(p, byProbe.get(p.id)!)).json() as BatchAnswer;
    expect(answer.results.every((r) => r.status === 'accepted')).toBe(true);
    c.clock.advance(1);
  }
}

describe('event delivery in the collector', () => {
  it('POSTs the revisions of an event found from uploads and writes its points, counts them in /metrics, and a restart resends none', async () => {
    const { receiver, influx, start } = await setup();
    const c = await start();
    await upload(c);
    // Derived by the detector's own timer (at most once a second), with no reader asking.
    await until(() => !c.collector.events.current.pending);
    const last = c.collector.eventStore.lastSeq();
    expect(last).toBeGreaterThanOrEqual(2);
    await until(() => c.collector.webhook?.stats().cursor === last && c.collector.eventPoints?.stats().cursor === last);
    expect(receiver.accepted()).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    expect(receiver.received.every((r) => r.signatureValid)).toBe(true);
    const youtube = receiver.received.filter((r) => (r.body['event'] as { series: string }).series === 'youtube/AS9198/tls');
    expect(youtube[0]!.body['type']).toBe('opened');
    const event = youtube.at(-1)!.body['event'] as { id: string; status: string; start: string; end: string };
    expect(event.status).toBe('closed');

    // The InfluxDB event points, to config.influx: the event's start and end stand, at its times.
    expect(influx.writes.every((w) => w.bucket === 'reachability' && w.org === 'ashyq' && w.authorization === 'Token tok')).toBe(true);
    const lines = influx.acknowledgedLines().filter((l) => l.includes(`event="${event.id}"`));
    const standing = new Map<string, string>();
    for (const l of lines) standing.set(`${l.slice(0, l.indexOf(' '))} ${l.slice(l.lastIndexOf(' ') + 1)}`, /state="(\w+)"/.exec(l)![1]!);
    const shown = [...standing].filter(([, state]) => state !== 'revised');
    expect(shown.map(([k, state]) => [k.split(' ')[0], state, BigInt(k.split(' ')[1]!) / 1_000_000n])).toEqual([
      ['blocking_event,target=youtube,asn=9198,cc=KZ,method=tls', 'start', BigInt(Date.parse(event.start))],
      ['blocking_event,target=youtube,asn=9198,cc=KZ,method=tls', 'end', BigInt(Date.parse(event.end))],
    ]);

    const metrics = (await request(`${c.url}/metrics`)).text;
    const opened = receiver.received.filter((r) => r.body['type'] === 'opened').length;
    const changed = receiver.received.filter((r) => r.body['type'] === 'changed').length;
    expect(metrics).toMatch(/^ashyq_events_open 0$/m);
    expect(metrics).toMatch(new RegExp(`^ashyq_event_revisions_total\\{type="opened"\\} ${opened}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^ashyq_event_revisions_total\\{type="changed"\\} ${changed}$`, 'm'));
    expect(metrics).toMatch(/^ashyq_webhook_backlog 0$/m);
    // The detector's work: every uploaded measurement counted, and some main-thread time spent on them.
    const uploaded = c.collector.store.measurementCount();
    expect(metrics).toMatch(new RegExp(`^ashyq_event_detector_observations_total ${uploaded}$`, 'm'));
    expect(Number(/^ashyq_event_detector_seconds_total (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^ashyq_webhook_failures_total\{reason="error"\} 0$/m);
    expect(metrics).toMatch(/^ashyq_webhook_failures_total\{reason="refused"\} 0$/m);
    await c.stop();

    // A restart: nothing delivered before is sent again.
    const count = receiver.received.length;
    const writes = influx.writes.length;
    const again = await start();
    expect(again.collector.webhook?.stats().cursor).toBe(last);
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.received.length).toBe(count);
    expect(influx.writes.length).toBe(writes);
    expect(again.collector.webhook?.stats()).toMatchObject({ backlog: 0, delivered: 0 });
  });

  it('shows a receiver that is down in /metrics, and delivers the backlog once it is back', async () => {
    const { receiver, start } = await setup();
    await receiver.close();
    const c = await start();
    await upload(c);
    c.collector.events.settle();
    const last = c.collector.eventStore.lastSeq();
    await until(() => (c.collector.webhook?.stats().failedAttempts ?? 0) >= 2);
    const metrics = (await request(`${c.url}/metrics`)).text;
    expect(metrics).toMatch(new RegExp(`^ashyq_webhook_backlog ${last}$`, 'm'));
    expect(Number(/^ashyq_webhook_failures_total\{reason="error"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    await receiver.listen();
    await until(() => c.collector.webhook?.stats().cursor === last);
    expect(receiver.accepted()).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  });

  it('after a crash (the detector back at an older snapshot) delivers the remade revisions again', async () => {
    const { receiver, start } = await setup();
    const c = await start();
    // The snapshot saved at start, before any upload: what a crash before the next save leaves.
    const early = c.collector.eventStore.meta('snapshot');
    expect(early).not.toBeNull();
    await upload(c);
    c.collector.events.settle();
    const last = c.collector.eventStore.lastSeq();
    await until(() => c.collector.webhook?.stats().cursor === last);
    await c.stop();
    const { EventStore } = await import('../collector/storage/event-store.js');
    const file = path.join(c.dir, 'events.sqlite');
    const store = EventStore.open(file);
    store.setMeta('snapshot', early!); // as if the stop's save never happened
    store.close();

    const first = receiver.received.length;
    const again = await start();
    // Remade from the archive, read in one pass: numbered from 1 again, fewer of them than live.
    const remade = again.collector.eventStore.lastSeq();
    expect(remade).toBeGreaterThan(0);
    expect(remade).toBeLessThanOrEqual(last);
    await until(() => again.collector.webhook?.stats().cursor === remade);
    expect(receiver.received.slice(first).map((r) => r.seq)).toEqual(Array.from({ length: remade }, (_, i) => i + 1));
    expect(receiver.received.slice(first).every((r) => r.signatureValid)).toBe(true);
  });
});
