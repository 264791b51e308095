// Blocking events as `blocking_event` points: the lines of each revision, and against a real InfluxDB 1.x through the outbox, revised points out of the dashboard's annotation query.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { InvalidArgumentError } from '../common/errors.js';
import { RevisionOutbox, type OutboxLog } from '../collector/events/outbox.js';
import type { Revision } from '../collector/events/types.js';
import { annotationText, EventPoints, revisionLines } from '../collector/sinks/influx/event-points.js';
import { eventLine, pointTimestamp } from '../collector/sinks/influx/line.js';
import { InfluxWriter, type LineWriter, type WriteOutcome } from '../collector/sinks/influx/writer.js';
import { findInfluxd, InfluxDB1, type InfluxQLSeries } from './services/influxdb.js';
import { startV2ToV1Adapter, type V2ToV1Adapter } from './services/v2-to-v1-adapter.js';
import { E0, HOUR, makeEvent, RevisionLog, tempEventStore, type TempEventStore } from './fixtures/events/revisions.js';

const quiet: OutboxLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The fields of a line that matter here: tags, state and time. */
function parse(line: string): { tags: string; state: string; time: string } {
  const tags = line.slice(0, line.indexOf(' '));
  const state = /state="(\w+)"/.exec(line)?.[1] ?? '';
  return { tags, state, time: line.slice(line.lastIndexOf(' ') + 1) };
}

/** An event opened, its start moved an hour earlier by late data, then closed. */
function movedThenClosed(o: Parameters<typeof makeEvent>[0] = {}): RevisionLog {
  const log = new RevisionLog();
  const e = makeEvent(o);
  log.revise('opened', e);
  log.revise('changed', { ...e, start: e.start - HOUR, probe_count: 4 });
  log.revise('closed', { ...e, start: e.start - HOUR, probe_count: 4, status: 'closed', end: e.start + 3 * HOUR });
  return log;
}

describe('revisionLines', () => {
  it('writes a start per target and ASN, overwrites a moved start as revised, and adds the end once closed', () => {
    const [opened, moved, closed] = movedThenClosed({ targets: ['youtube', 'facebook'], asns: [9198, 21299] }).revisions;
    const id = opened!.event_id;
    const at = (ms: number, edge: string) => pointTimestamp(ms, `${id}/${edge}`);
    const tags = (target: string, asn: number) => `blocking_event,target=${target},asn=${asn},cc=KZ,method=tls`;
    const pairs = [
      ['youtube', 9198],
      ['youtube', 21299],
      ['facebook', 9198],
      ['facebook', 21299],
    ] as const;

    expect(revisionLines(opened!).map(parse)).toEqual(pairs.map(([t, a]) => ({ tags: tags(t, a), state: 'start', time: at(E0, 'start') })));
    expect(revisionLines(moved!).map(parse)).toEqual([
      ...pairs.map(([t, a]) => ({ tags: tags(t, a), state: 'revised', time: at(E0, 'start') })),
      ...pairs.map(([t, a]) => ({ tags: tags(t, a), state: 'start', time: at(E0 - HOUR, 'start') })),
    ]);
    expect(revisionLines(closed!).map(parse)).toEqual(
      pairs.flatMap(([t, a]) => [
        { tags: tags(t, a), state: 'start', time: at(E0 - HOUR, 'start') },
        { tags: tags(t, a), state: 'end', time: at(E0 + 3 * HOUR, 'end') },
      ]),
    );
    const line = revisionLines(closed!)[1]!;
    expect(line).toContain(`event="${id}"`);
    expect(line).toContain('kind="blocking"');
    expect(line).toContain('scope="full"');
    expect(line).toContain('probes=4i');
    expect(line).toContain('text="end of blocking of youtube, facebook on AS9198, AS21299 by tls, 4 probes"');
  });

  it('marks an end moved by a reopen, points of a network no longer in the event, and every point of a retracted event as revised', () => {
    const log = new RevisionLog();
    const e = makeEvent({ status: 'closed', end: E0 + HOUR, asns: [9198, 21299] });
    log.revise('opened', e);
    const reopened = log.revise('reopened', { ...e, status: 'open', end: null, asns: [9198] });
    expect(revisionLines(reopened).map((l) => [parse(l).tags.split(',')[2], parse(l).state, parse(l).time])).toEqual([
      ['asn=9198', 'revised', pointTimestamp(E0 + HOUR, `${e.id}/end`)],
      ['asn=21299', 'revised', pointTimestamp(E0, `${e.id}/start`)],
      ['asn=21299', 'revised', pointTimestamp(E0 + HOUR, `${e.id}/end`)],
      ['asn=9198', 'start', pointTimestamp(E0, `${e.id}/start`)],
    ]);
    const retracted = log.revise('retracted', { ...e, status: 'retracted', end: null, asns: [9198], merged_into: 'other' });
    expect(revisionLines(retracted).map((l) => parse(l).state)).toEqual(['revised']);
  });

  it('writes a shutdown as target "all" and a country-wide event as asn "unknown"', () => {
    const log = new RevisionLog();
    const shutdown = log.revise('opened', makeEvent({ id: 'shutdown/KZ', series: '*/KZ/shutdown', kind: 'shutdown', targets: ['*'], level: 'country', asns: [9198, 21299], method: 'shutdown' }));
    const lines = revisionLines(shutdown);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.startsWith('blocking_event,target=all,asn=unknown,cc=KZ,method=shutdown ')).toBe(true);
    expect(annotationText(shutdown.event, 'start')).toBe('shutdown of all targets on KZ by shutdown, 3 probes');
  });

  it('needs the edge of a revised point (its timestamp comes from it)', () => {
    const base = { id: 'ev', target: 't', asn: null, cc: null, method: 'dns', at: '2024-05-09T07:00:00Z', probes: 1, confidence: 1, text: 'x' };
    expect(() => eventLine({ ...base, state: 'revised' })).toThrow(InvalidArgumentError);
    expect(parse(eventLine({ ...base, state: 'revised', edge: 'end' })).time).toBe(parse(eventLine({ ...base, state: 'end' })).time);
    expect(parse(eventLine({ ...base, state: 'revised', edge: 'start' })).time).not.toBe(parse(eventLine({ ...base, state: 'end' })).time);
  });
});

describe('EventPoints', () => {
  it('writes each point once per batch, as the last revision of the batch left it, and maps the writer outcome', async () => {
    const writes: string[][] = [];
    let answer: WriteOutcome = { ok: true };
    const writer: LineWriter = { write: async (lines) => (writes.push([...lines]), answer) };
    const points = new EventPoints({ writer, log: quiet });
    const revisions = movedThenClosed().revisions;
    expect(await points.send(revisions)).toEqual({ ok: true });
    // The first start (written as start, then revised) once, as revised; the final start; the end.
    expect(writes[0]!.map(parse).map((p) => p.state)).toEqual(['revised', 'start', 'end']);
    answer = { ok: false, kind: 'rejected', status: 400, message: 'HTTP 400: bad', retryAfterMs: null };
    expect(await points.send(revisions)).toEqual({ ok: false, retry: false, message: 'HTTP 400: bad' });
    answer = { ok: false, kind: 'retry', status: 503, message: 'HTTP 503', retryAfterMs: 2000 };
    expect(await points.send(revisions)).toEqual({ ok: false, retry: true, message: 'HTTP 503', retryAfterMs: 2000 });
  });
});

const lookup = findInfluxd();
const TOKEN = 'test-token';
const DB = 'ashyq';

function rows(series: InfluxQLSeries[]): Array<Record<string, unknown>> {
  return series.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
}

describe.skipIf(lookup.skip)('event points → v2→v1 adapter → real InfluxDB 1.x', () => {
  let influx: InfluxDB1;
  let adapter: V2ToV1Adapter;
  const cleanup: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    influx = await InfluxDB1.start(lookup);
    await influx.createDatabase(DB);
    adapter = await startV2ToV1Adapter({ upstream: influx.url, token: TOKEN });
  });

  afterAll(async () => {
    await adapter?.close();
    await influx?.destroy();
  });

  afterEach(async () => {
    while (cleanup.length > 0) await cleanup.pop()!();
  });

  const q = (influxql: string) => influx.query(DB, influxql);

  async function deliver(revisions: readonly Revision[], options: { batchSize?: number; each?: boolean } = {}): Promise<TempEventStore> {
    const t = await tempEventStore();
    cleanup.push(() => t.dispose());
    const writer = new InfluxWriter({ url: adapter.url, token: TOKEN, org: 'ashyq', bucket: DB, timeoutMs: 5000 });
    const box = new RevisionOutbox({ name: 'influx-events', store: t.store, clock: systemClock, send: new EventPoints({ writer, log: quiet }).send, pollMs: 10, batchSize: options.batchSize ?? 100, log: quiet });
    cleanup.push(() => writer.close());
    cleanup.push(() => box.stop());
    await box.start();
    // One revision at a time (as the detector saves them), or all at once.
    for (const chunk of options.each === true ? revisions.map((r) => [r]) : [revisions]) {
      t.save(chunk);
      box.notify();
      const seq = chunk.at(-1)!.seq;
      const deadline = Date.now() + 10_000;
      while (box.stats().cursor < seq) {
        if (Date.now() > deadline) throw new Error(`not delivered: ${JSON.stringify(box.stats())}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    return t;
  }

  it('an event opened, its start moved earlier by late data, then closed: one visible start at the final start and one end', async () => {
    for (const [name, options] of [
      ['each', { each: true }],
      ['batched', { batchSize: 100 }],
    ] as const) {
      const target = `moved-${name}`;
      const { revisions } = movedThenClosed({ id: `ev-${name}`, targets: [target] });
      await deliver(revisions, options);
      const visible = rows(await q(`SELECT "state", "event", "kind", "scope" FROM blocking_event WHERE target = '${target}' AND "state" <> 'revised'`));
      expect(visible.map((r) => [r.state, r.time, r.event, r.kind, r.scope]), name).toEqual([
        ['start', pointTimestamp(E0 - HOUR, `ev-${name}/start`), `ev-${name}`, 'blocking', 'full'],
        ['end', pointTimestamp(E0 + 3 * HOUR, `ev-${name}/end`), `ev-${name}`, 'blocking', 'full'],
      ]);
      const all = rows(await q(`SELECT "state" FROM blocking_event WHERE target = '${target}'`));
      expect(all.map((r) => r.state), name).toEqual(['start', 'revised', 'end']);
    }
  });

  it("leaves revised and retracted points out of the shipped dashboard's annotation query", async () => {
    // A day after the other tests' points.
    const D0 = E0 + 24 * HOUR;
    const log = new RevisionLog();
    const kept = makeEvent({ id: 'ev-kept', targets: ['dash-events'], start: D0 });
    log.revise('opened', kept);
    log.revise('changed', { ...kept, start: D0 - HOUR });
    const gone = makeEvent({ id: 'ev-gone', targets: ['dash-events'], asns: [21299], start: D0 + 10 * 60_000 });
    log.revise('opened', gone);
    log.revise('retracted', { ...gone, status: 'retracted', merged_into: 'ev-kept' });
    await deliver(log.revisions, { each: true });

    const dash = JSON.parse(readFileSync(new URL('../deploy/grafana/dashboards/overview.json', import.meta.url), 'utf8')) as {
      annotations: { list: Array<{ query: string; textColumn: string }> };
    };
    const annotation = dash.annotations.list.find((a) => a.query.includes('blocking_event'))!;
    // Grafana's expansion: the time range, and the variables (one service, both networks, the country).
    const query = annotation.query
      .replaceAll('$timeFilter', `time >= ${D0 - 2 * HOUR}ms and time <= ${D0 + 2 * HOUR}ms`)
      .replaceAll('$target', 'dash-events')
      .replaceAll('$asn', '(9198|21299)')
      .replaceAll('$cc', 'KZ');
    const got = rows(await q(query));
    expect(got.map((r) => [r.time, r[annotation.textColumn]])).toEqual([[pointTimestamp(D0 - HOUR, 'ev-kept/start'), 'blocking of dash-events on AS9198 by tls, 3 probes']]);
    // Without the filter the revised points would show.
    const unfiltered = rows(await q(query.replace(`"state" <> 'revised' AND `, '')));
    expect(unfiltered.length).toBeGreaterThan(got.length);
  });
});
