// The shipped Grafana dashboards against a real InfluxDB 1.x filled by the collector's own sinks: every query (panels, variables, annotations) run with Grafana's InfluxQL expansion, with known answers.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { systemClock } from '../common/clock.js';
import type { Category } from '../contract/target.js';
import type { Decision } from '../contract/verdict.js';
import type { BlockingEvent, Revision } from '../collector/events/types.js';
import { EventPoints } from '../collector/sinks/influx/event-points.js';
import { SpoolOverflowPoints } from '../collector/sinks/influx/overflow-points.js';
import { ControlRunPoints } from '../collector/sinks/influx/control-points.js';
import { InfluxSink, type SinkLogger } from '../collector/sinks/influx/sink.js';
import { InfluxWriter } from '../collector/sinks/influx/writer.js';
import type { ArchivedRecord } from '../collector/storage/archive.js';
import { makeRecord, MemoryArchive } from './services/archive-records.js';
import { findInfluxd, InfluxDB1, type InfluxQLSeries } from './services/influxdb.js';
import { startV2ToV1Adapter, type V2ToV1Adapter } from './services/v2-to-v1-adapter.js';

const lookup = findInfluxd();
const TOKEN = 'test-token';
const DB = 'ashyq';
const HOUR = 3_600_000;
const T0 = Date.parse('2019-05-09T00:00:00.000Z');
const HOURS = 6;
const RANGE = { from: T0, to: T0 + HOURS * HOUR - 1 };
const quiet: SinkLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

const DASHBOARD_DIR = new URL('../deploy/grafana/dashboards/', import.meta.url);
const DATASOURCES = new URL('../deploy/grafana/provisioning/datasources/influxdb.yaml', import.meta.url);

/** Panels whose data nobody writes yet, run like every other query but expected empty (none now). */
const PENDING_DATA = new Set<string>();

interface Target {
  refId: string;
  query: string;
  datasource: { type: string; uid: string };
  resultFormat: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource: { type: string; uid: string };
  targets: Target[];
}
interface Variable {
  name: string;
  query: string;
  multi: boolean;
  includeAll: boolean;
  datasource: { type: string; uid: string };
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Variable[] };
  annotations: { list: Array<{ name: string; query: string; textColumn: string; datasource: { uid: string }; target: { query: string } }> };
  panels: Panel[];
}

const files = readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json')).sort();
const dashboards = files.map((f) => ({ file: f, dash: JSON.parse(readFileSync(new URL(f, DASHBOARD_DIR), 'utf8')) as Dashboard }));
const byUid = (uid: string): Dashboard => {
  const d = dashboards.find((x) => x.dash.uid === uid)?.dash;
  if (d === undefined) throw new Error(`no dashboard ${uid}`);
  return d;
};

/** Every string under a key "query" anywhere in a JSON value. */
function queriesIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) queriesIn(v, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'query' && typeof v === 'string') out.push(v);
      else queriesIn(v, out);
    }
  }
  return out;
}

/** Grafana's regex escape of a variable value (for InfluxQL, values inside /.../). */
const escapeRegex = (v: string) => v.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');

/**
 * Grafana's interpolation for InfluxQL: $timeFilter / $__timeFilter as a time range in ms,
 * $__interval, and each template variable: a multi-value or "All" variable as an alternation of its
 * regex-escaped values ("(a|b)", one value alone without parentheses), a single value as itself.
 */
function expand(query: string, values: Record<string, string[]>, variables: Variable[], interval: string): string {
  const timeFilter = `time >= ${RANGE.from}ms and time <= ${RANGE.to}ms`;
  return query
    .replaceAll('$__timeFilter', timeFilter)
    .replaceAll('$timeFilter', timeFilter)
    .replaceAll('$__interval', interval)
    .replace(/\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
      const name = (a ?? b ?? c)!;
      const variable = variables.find((v) => v.name === name);
      const chosen = values[name];
      if (variable === undefined || chosen === undefined) throw new Error(`query uses $${name}, which has no value: ${whole} in ${query}`);
      if (!variable.multi && !variable.includeAll) return escapeRegex(chosen[0]!);
      const escaped = chosen.map(escapeRegex);
      return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
    });
}

/** Rows of an answer, tags merged in, keyed by column; time as ms. */
function rows(series: InfluxQLSeries[]): Array<Record<string, unknown>> {
  return series.flatMap((s) =>
    s.values.map((v) => {
      const row: Record<string, unknown> = { ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) };
      if (row.time !== undefined) row.time = Number(BigInt(String(row.time)) / 1_000_000n);
      return row;
    }),
  );
}

// ---- the data: four services, three networks, two probes each, six hours ------------------------

const TARGETS: Array<{ id: string; category: Category }> = [
  { id: 'youtube', category: 'video' },
  { id: 'facebook', category: 'social' },
  { id: 'telegram', category: 'messenger' },
  { id: 'twitter', category: 'social' },
];
const ASNS = [9198, 21299, 48503];
const QAZNET = 'CN=Qaznet Trust Network';

const decision = (verdict: Decision['verdict'], layer: Decision['layer'], scope: 'full' | 'partial' = 'full'): Decision => ({
  verdict,
  layer,
  confidence: 0.9,
  reason: 'built in the test',
  subjects: verdict === 'ok' ? [] : ['www.example.com'],
  scope,
});

/**
 * youtube on AS9198 in hours 2-3: tls.reset; telegram on AS21299 always: tcp.timeout of partial scope;
 * facebook on AS48503 in hours 1-4: tls.interception by the Qaznet chain; twitter on AS9198:
 * http.throttled (bulk 20 kB/s against the canaries' 2 MB/s; elsewhere 1.5 MB/s); the rest ok.
 * Timings: DNS 10 + hour, TCP 20 + probe index, TLS 30 + network index, HTTP 100 + 10 × service
 * index (ms). facebook on AS9198 in hour 5: tcp.refused for the probes, down for the collector (its
 * control was refused too). Probes on AS48503 run 0.2.0, the others 0.1.0. Upload lag 5 s, but AS21299's probe b
 * delivers hour 1 two hours late.
 */
function buildRecords(): ArchivedRecord[] {
  const out: ArchivedRecord[] = [];
  let i = 0;
  for (let h = 0; h < HOURS; h++) {
    for (const [ti, target] of TARGETS.entries()) {
      for (const [ai, asn] of ASNS.entries()) {
        for (const [pi, letter] of ['a', 'b'].entries()) {
          const started = T0 + h * HOUR + ti * 60_000 + ai * 10_000 + pi * 1000;
          let verdict = decision('ok', null);
          if (target.id === 'youtube' && asn === 9198 && (h === 2 || h === 3)) verdict = decision('tls.reset', 'tls');
          if (target.id === 'telegram' && asn === 21299) verdict = decision('tcp.timeout', 'tcp', 'partial');
          if (target.id === 'facebook' && asn === 48503 && h >= 1 && h <= 4) verdict = decision('tls.interception', 'tls');
          if (target.id === 'twitter' && asn === 9198) verdict = decision('http.throttled', 'http');
          // facebook on AS9198 in hour 5: refused for the probes, and for the control too: the collector says down.
          const siteDown = target.id === 'facebook' && asn === 9198 && h === 5;
          if (siteDown) verdict = decision('tcp.refused', 'tcp');
          const probeId = `probe-${asn}-${letter}`;
          const r = makeRecord(i++, { startMs: 0, startedAt: new Date(started).toISOString(), target, verdict, asn, cc: 'KZ', probeId });
          const m = r.measurement;
          m.probe.software.version = asn === 48503 ? '0.2.0' : '0.1.0';
          const domain = `www.${target.id}.com`;
          const none = { operation: null, error: null };
          m.evidence.dns = [
            {
              domain,
              queries: [{ domain, qtype: 'A', resolver: 'system', kind: 'system', rcode: 'NOERROR', addresses: ['192.0.2.10'], ttl: 60, late: [], bogons: [], rtt_ms: 10 + h, failure: null, ...none }],
            },
          ];
          if (siteDown) r.collector = { verdict: decision('down', 'tcp'), control_id: `control-${h}` };
          const tcpFails = verdict.verdict === 'tcp.timeout' || siteDown;
          m.evidence.tcp = [
            { domain, ip: '192.0.2.10', port: 443, rtt_ms: tcpFails ? null : 20 + pi, failure: siteDown ? 'connection_refused' : tcpFails ? 'generic_timeout_error' : null, operation: tcpFails ? 'connect' : null, error: null },
          ];
          const cert = (subject: string, issuer: string) => ({ subject, issuer, fingerprint256: 'AA', spki_sha256: null, serial: '1', valid_from: '', valid_to: '', san: [] });
          const reset = verdict.verdict === 'tls.reset';
          const intercepted = verdict.verdict === 'tls.interception';
          m.evidence.tls = tcpFails
            ? []
            : [
                {
                  domain,
                  ip: '192.0.2.10',
                  port: 443,
                  sni: domain,
                  version: reset ? null : 'TLSv1.3',
                  cipher: null,
                  alpn: null,
                  chain: intercepted ? [cert(`CN=${domain}`, 'CN=Security Certificate'), cert('CN=Security Certificate', QAZNET)] : reset ? [] : [cert(`CN=${domain}`, 'CN=Public CA')],
                  trusted: reset ? null : !intercepted,
                  hostname_ok: reset ? null : true,
                  validation_error: intercepted ? 'SELF_SIGNED_CERT_IN_CHAIN' : null,
                  rtt_ms: reset ? null : 30 + ai,
                  failure: reset ? 'connection_reset' : null,
                  operation: reset ? 'tls_handshake' : null,
                  error: null,
                  neutral: null,
                },
              ];
          const httpOk = verdict.verdict === 'ok' || verdict.verdict === 'http.throttled';
          m.evidence.http = httpOk
            ? [{ domain, url: `https://${domain}/`, ip: '192.0.2.10', port: 443, status: 200, headers: {}, body_length: 10, body_sha256: null, body_head: null, title: null, rtt_ms: 100 + ti * 10, failure: null, ...none }]
            : [];
          if (target.id === 'twitter') {
            // Throttling evidence as the probe's bulk reads carry it (evidence.bulk, evidence.baseline).
            Object.assign(m.evidence, {
              bulk: [{ ...m.evidence.http[0]!, body_ms: 2000, rate_bps: asn === 9198 ? 20_000 : 1_500_000, ended: 'time' }],
              baseline: { canaries: ['canary-intl'], bulk_rate_bps: 2_000_000, tls_handshake_ms: 25 },
            });
          }
          const lag = asn === 21299 && letter === 'b' && h === 1 ? 7200 : 5;
          r.received_at = new Date(started + m.runtime_ms + lag * 1000).toISOString();
          out.push(r);
        }
      }
    }
  }
  return out;
}

function event(over: Partial<BlockingEvent> & Pick<BlockingEvent, 'id' | 'targets' | 'asns' | 'method' | 'kind' | 'start'>): BlockingEvent {
  return {
    series: `${over.targets[0]}/AS${over.asns[0]}/${over.method}`,
    status: 'open',
    end: null,
    level: 'asn',
    categories: ['video'],
    cc: 'KZ',
    scope: 'full',
    probe_count: 2,
    measurement_count: 8,
    blocked_count: 4,
    confidence: 0.9,
    incident: null,
    revision: 1,
    evidence: [],
    single_probe: false,
    ...over,
  };
}

const YT_START = T0 + 2 * HOUR;
const YT_END = T0 + 4 * HOUR - 1000;
const ytOpen = event({ id: 'ev-yt', targets: ['youtube'], asns: [9198], method: 'tls', kind: 'blocking', start: YT_START, incident: 'inc:ev-yt' });
const ytClosed: BlockingEvent = { ...ytOpen, status: 'closed', end: YT_END, revision: 2 };
const tgOpen = event({ id: 'ev-tg', targets: ['telegram'], asns: [21299], method: 'tcp', kind: 'partial', scope: 'partial', categories: ['messenger'], start: T0 });
const REVISIONS: Revision[] = [
  { seq: 1, event_id: 'ev-yt', revision: 1, type: 'opened', at: YT_START, changes: {}, event: ytOpen },
  { seq: 2, event_id: 'ev-tg', revision: 1, type: 'opened', at: T0, changes: {}, event: tgOpen },
  { seq: 3, event_id: 'ev-yt', revision: 2, type: 'closed', at: YT_END, changes: { status: { from: 'open', to: 'closed' }, end: { from: null, to: YT_END } }, event: ytClosed },
];

// ---- the test ------------------------------------------------------------------------------------

describe('deploy/grafana dashboards: structure', () => {
  const provisioned = parse(readFileSync(DATASOURCES, 'utf8')) as { datasources: Array<{ uid: string; type: string; jsonData: { version?: string; dbName: string } }> };

  it('ships the overview, the service drill-down and fleet health, with unique uids and schemaVersion 39', () => {
    expect(files).toEqual(['fleet.json', 'overview.json', 'service.json']);
    const uids = dashboards.map((d) => d.dash.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const { file, dash } of dashboards) expect(dash.schemaVersion, file).toBe(39);
  });

  it('names only the provisioned InfluxQL data source, and every panel has a type, a grid position and queries', () => {
    expect(provisioned.datasources).toHaveLength(1);
    const ds = provisioned.datasources[0]!;
    expect(ds).toMatchObject({ type: 'influxdb', jsonData: { version: 'InfluxQL', dbName: DB } });
    for (const { file, dash } of dashboards) {
      const refs: Array<{ uid: string; type?: string }> = [
        ...dash.panels.map((p) => p.datasource),
        ...dash.panels.flatMap((p) => p.targets.map((t) => t.datasource)),
        ...dash.templating.list.map((v) => v.datasource),
        ...dash.annotations.list.map((a) => a.datasource),
      ];
      for (const r of refs) expect(r, file).toMatchObject({ uid: ds.uid, type: 'influxdb' });
      const ids = dash.panels.map((p) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
      for (const p of dash.panels) {
        expect(typeof p.type, `${file} ${p.title}`).toBe('string');
        expect(p.gridPos, `${file} ${p.title}`).toEqual({ h: expect.any(Number), w: expect.any(Number), x: expect.any(Number), y: expect.any(Number) });
        expect(p.gridPos.x + p.gridPos.w, `${file} ${p.title}`).toBeLessThanOrEqual(24);
        expect(p.targets.length, `${file} ${p.title}`).toBeGreaterThan(0);
        for (const t of p.targets) expect(t.query, `${file} ${p.title}`).toMatch(/^SELECT .* FROM "\w+" WHERE .*\$timeFilter/);
      }
      for (const v of dash.templating.list) expect(v.query, `${file} $${v.name}`).toMatch(/^SHOW TAG VALUES FROM "reachability" WITH KEY = "\w+"/);
      expect(dash.annotations.list.some((a) => a.query.includes('FROM "blocking_event"') && a.target.query === a.query), file).toBe(true);
    }
  });
});

describe.skipIf(lookup.skip)('deploy/grafana dashboards against a real InfluxDB filled by the collector', () => {
  let influx: InfluxDB1;
  let adapter: V2ToV1Adapter;
  let dir: string;
  const records = buildRecords();
  /** Query text → series answered, over every execution. */
  const executed = new Map<string, number>();
  const q = async (influxql: string) => influx.query(DB, influxql);

  beforeAll(async () => {
    influx = await InfluxDB1.start(lookup);
    await influx.createDatabase(DB);
    adapter = await startV2ToV1Adapter({ upstream: influx.url, token: TOKEN });
    dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-grafana-'));
    // The measurements through the collector's sink, as it follows the archive.
    const archive = new MemoryArchive();
    archive.append(records);
    const sink = new InfluxSink({ url: adapter.url, token: TOKEN, org: 'ashyq', bucket: DB, stateDir: dir, source: archive.source, logger: quiet, flushIntervalMs: 20 });
    await sink.start();
    expect(await sink.drain()).toBe(true);
    expect(sink.stats()).toMatchObject({ written: records.length, rejected: 0, unconvertible: 0 });
    await sink.stop();
    // The events through the revision outbox's InfluxDB sender.
    const writer = () => new InfluxWriter({ url: adapter.url, token: TOKEN, org: 'ashyq', bucket: DB, timeoutMs: 5000 });
    const points = new EventPoints({ writer: writer(), log: { error: (m) => expect.fail(m) } });
    expect(await points.send(REVISIONS)).toEqual({ ok: true });
    points.close();
    // A spool-overflow report, then the same overflow grown: the point holds the larger count.
    const overflows = new SpoolOverflowPoints({ writer: writer(), clock: systemClock, logger: { ...quiet, error: (m) => expect.fail(m) } });
    overflows.start();
    const report = { first_dropped_at: new Date(T0 + HOUR + 600_000).toISOString(), last_dropped_at: new Date(T0 + HOUR + 3_000_000).toISOString() };
    overflows.note({ probe_id: 'probe-21299-b', asn: 21299, cc: 'KZ', report: { ...report, dropped: 12 } });
    await overflows.flush();
    overflows.note({ probe_id: 'probe-21299-b', asn: 21299, cc: 'KZ', report: { ...report, dropped: 15 } });
    await overflows.flush();
    expect(overflows.backlog()).toBe(0);
    await overflows.stop();
    // Two runs of the control vantage in Germany, the second an hour later.
    const runs = new ControlRunPoints({ writer: writer(), clock: systemClock, logger: { ...quiet, error: (m) => expect.fail(m) } });
    runs.start();
    runs.note({ at: T0 + HOUR + 60_000, vantage: 'DE', targets: 27, failing: 0, offline: false });
    runs.note({ at: T0 + 2 * HOUR + 60_000, vantage: 'DE', targets: 26, failing: 1, offline: false });
    await runs.flush();
    expect(runs.backlog()).toBe(0);
    await runs.stop();
  });

  afterAll(async () => {
    await adapter?.close();
    await influx?.destroy();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** Run a query of a dashboard, expanded; counts it as executed. */
  async function run(query: string, values: Record<string, string[]>, variables: Variable[], interval = '1h') {
    const series = await q(expand(query, values, variables, interval));
    executed.set(query, (executed.get(query) ?? 0) + series.length);
    return rows(series);
  }

  /**
   * Resolve a dashboard's variables as Grafana does, in order (a later one's query may use an
   * earlier one): each query's values, then the chosen subset ("All" = every value).
   */
  async function resolve(dash: Dashboard, choose: Record<string, string[] | 'all'>): Promise<{ values: Record<string, string[]>; offered: Record<string, string[]> }> {
    const values: Record<string, string[]> = {};
    const offered: Record<string, string[]> = {};
    for (const v of dash.templating.list) {
      const found = (await run(v.query, values, dash.templating.list)).map((r) => String(r.value)).sort();
      offered[v.name] = found;
      const want = choose[v.name] ?? 'all';
      values[v.name] = want === 'all' ? found : want;
      for (const w of values[v.name]!) expect(found, `$${v.name}`).toContain(w);
    }
    return { values, offered };
  }

  function panelOf(dash: Dashboard, title: string): Panel {
    const p = dash.panels.find((x) => x.title === title);
    if (p === undefined) throw new Error(`${dash.uid}: no panel "${title}"`);
    return p;
  }

  /** Each query of a panel, run; rows per refId. */
  async function panel(dash: Dashboard, title: string, values: Record<string, string[]>): Promise<Record<string, Array<Record<string, unknown>>>> {
    const out: Record<string, Array<Record<string, unknown>>> = {};
    for (const t of panelOf(dash, title).targets) out[t.refId] = await run(t.query, values, dash.templating.list);
    return out;
  }

  const at = (h: number) => T0 + h * HOUR;
  const pick = (rs: Array<Record<string, unknown>>, where: Record<string, unknown>) => rs.filter((r) => Object.entries(where).every(([k, v]) => r[k] === v));
  const one = (rs: Array<Record<string, unknown>>, where: Record<string, unknown>) => {
    const found = pick(rs, where);
    expect(found, JSON.stringify(where)).toHaveLength(1);
    return found[0]!;
  };

  it('overview: variables, blocked and partial shares, the service × network grid, events, probes and measurements per hour', async () => {
    const dash = byUid('ashyq-overview');
    const { values, offered } = await resolve(dash, { asn: ['9198', '21299'] });
    expect(offered).toEqual({
      category: ['messenger', 'social', 'video'],
      target: ['facebook', 'telegram', 'twitter', 'youtube'],
      cc: ['KZ'],
      asn: ['21299', '48503', '9198'],
    });
    // A category narrows the services offered.
    expect((await run(dash.templating.list.find((v) => v.name === 'target')!.query, { category: ['social'] }, dash.templating.list)).map((r) => r.value)).toEqual(['facebook', 'twitter']);

    const share = await panel(dash, 'Blocked share per service', values);
    // Four measurements per service and hour on the two chosen networks (two probes each).
    expect(one(share.A!, { target: 'youtube', time: at(2) }).blocked).toBe(0.5);
    expect(one(share.A!, { target: 'youtube', time: at(0) }).blocked).toBe(0);
    expect(one(share.A!, { target: 'twitter', time: at(5) }).blocked).toBe(0.5);
    // Its interception is on AS48503, not chosen; its refusals on AS9198 in hour 5 are down for the collector (the control was refused too).
    expect(pick(share.A!, { target: 'facebook' }).map((r) => r.blocked)).toEqual(Array(HOURS).fill(0));
    expect(share.A).toHaveLength(4 * HOURS);
    // Partial blocking apart: telegram's every hour; the others have none (null: a gap in the chart).
    expect(pick(share.B!, { target: 'telegram' }).map((r) => r.partial)).toEqual(Array(HOURS).fill(0.5));
    expect(share.B!.filter((r) => r.target !== 'telegram' && r.partial !== null)).toEqual([]);

    const grid = (await panel(dash, 'Blocked share, service × network', values)).A!;
    expect(grid).toHaveLength(8);
    expect(one(grid, { target: 'youtube', asn: '9198' }).share).toBeCloseTo(4 / 12, 12);
    expect(one(grid, { target: 'youtube', asn: '21299' }).share).toBe(0);
    expect(one(grid, { target: 'telegram', asn: '21299' }).share).toBe(1);
    expect(one(grid, { target: 'twitter', asn: '9198' }).share).toBe(1);

    const events = (await panel(dash, 'Blocking events and incidents', values)).A!;
    expect(events.map((r) => [r.target, r.asn, r.method, r.state, r.kind, r.event, r.incident, r.probes]).sort()).toEqual([
      ['telegram', '21299', 'tcp', 'start', 'partial', 'ev-tg', null, 2],
      ['youtube', '9198', 'tls', 'end', 'blocking', 'ev-yt', 'inc:ev-yt', 2],
    ]);
    expect(one(events, { event: 'ev-yt' }).text).toBe('end of blocking of youtube on AS9198 by tls, 2 probes');

    const probes = (await panel(dash, 'Probes reporting per network', values)).A!;
    expect(probes.map((r) => [r.asn, r.probes]).sort()).toEqual([['21299', 2], ['9198', 2]]);

    const perHour = (await panel(dash, 'Measurements per hour', values)).A!;
    expect(pick(perHour, { time: at(2) }).map((r) => [r.verdict, r.measurements]).sort()).toEqual([
      ['http.throttled', 2],
      ['ok', 10],
      ['tcp.timeout', 2],
      ['tls.reset', 2],
    ]);
    expect(one(perHour, { time: at(0), verdict: 'ok' }).measurements).toBe(12);
    expect(one(perHour, { time: at(5), verdict: 'down' }).measurements, "counted by the collector's verdict").toBe(2);
    expect(perHour.filter((r) => r.verdict === 'tcp.refused')).toEqual([]);

    const notes = await run(dash.annotations.list[0]!.query, values, dash.templating.list);
    expect(notes.map((r) => [r.time, r.text])).toEqual([
      [T0, 'partial of telegram on AS21299 by tcp, 2 probes'],
      [YT_START, 'blocking of youtube on AS9198 by tls, 2 probes'],
      [YT_END, 'end of blocking of youtube on AS9198 by tls, 2 probes'],
    ]);
    // Another network chosen: neither event is on it.
    expect(await run(dash.annotations.list[0]!.query, { ...values, asn: ['48503'] }, dash.templating.list)).toEqual([]);
  });

  it('service drill-down of twitter: verdicts by method, timings per layer, throttling against the canaries, both verdicts', async () => {
    const dash = byUid('ashyq-service');
    const { values } = await resolve(dash, { target: ['twitter'] });

    const mix = (await panel(dash, 'Verdict mix by method', values)).A!;
    expect(one(mix, { time: at(0), layer: 'http', verdict: 'http.throttled' }).measurements).toBe(2);
    expect(one(mix, { time: at(0), layer: 'none', verdict: 'ok' }).measurements).toBe(4);
    expect(mix).toHaveLength(2 * HOURS);

    const timings = (await panel(dash, 'Timings per layer (p50, p95)', values)).A!;
    expect(timings).toHaveLength(HOURS);
    // Six measurements an hour: DNS 10 + hour; TCP 20 or 21 (probe a, b); TLS 30, 31, 32 (network); HTTP 130.
    expect(one(timings, { time: at(3) })).toMatchObject({
      'dns p50': 13, 'dns p95': 13, 'tcp p50': 20, 'tcp p95': 21, 'tls p50': 31, 'tls p95': 32, 'http p50': 130, 'http p95': 130,
    });

    const rates = (await panel(dash, 'Throttling: bulk rate against the canaries\'', values)).A!;
    expect(one(rates, { time: at(1), asn: '9198' })).toMatchObject({ bulk: 20_000, canary: 2_000_000 });
    expect(one(rates, { time: at(1), asn: '21299' })).toMatchObject({ bulk: 1_500_000, canary: 2_000_000 });

    const intercepted = await panel(dash, 'TLS interception: issuer of the intercepting chain', values);
    expect(intercepted).toEqual({ A: [], B: [] }); // none for twitter

    const verdicts = (await panel(dash, "Probe's verdict against the collector's", values)).A!;
    expect(verdicts.map((r) => [r.probe_verdict, r.verdict, r.measurements]).sort()).toEqual([
      ['http.throttled', 'http.throttled', 12],
      ['ok', 'ok', 24],
    ]);
  });

  it("service drill-down of facebook: the intercepting chain's issuer per network", async () => {
    const dash = byUid('ashyq-service');
    const { values } = await resolve(dash, { target: ['facebook'] });
    const found = await panel(dash, 'TLS interception: issuer of the intercepting chain', values);
    expect(found.A!.map((r) => [r.asn, r.issuer])).toEqual([['48503', QAZNET]]);
    expect(found.B!.map((r) => [r.asn, r.measurements])).toEqual([['48503', 8]]);
    const verdicts = (await panel(dash, "Probe's verdict against the collector's", values)).A!;
    expect(one(verdicts, { verdict: 'tls.interception' })).toMatchObject({ probe_verdict: 'tls.interception', measurements: 8 });
    // Where the control changed the verdict: the probes said tcp.refused, the collector down.
    expect(one(verdicts, { verdict: 'down' })).toMatchObject({ probe_verdict: 'tcp.refused', measurements: 2 });
    // Throttling is only measured where a service has a bulk resource.
    expect((await panel(dash, 'Throttling: bulk rate against the canaries\'', values)).A).toEqual([]);
    const notes = await run(dash.annotations.list[0]!.query, values, dash.templating.list);
    expect(notes).toEqual([]);
  });

  it('fleet health: probes online, upload lag, spool backlog and drops, software versions; the control vantage stays empty', async () => {
    const dash = byUid('ashyq-fleet');
    const { values, offered } = await resolve(dash, {});
    expect(offered).toEqual({ cc: ['KZ'], asn: ['21299', '48503', '9198'] });

    const online = (await panel(dash, 'Probes online per network', values)).A!;
    expect(online).toHaveLength(3 * HOURS);
    for (const r of online) expect(r.probes).toBe(2);

    const lag = (await panel(dash, 'Upload lag', values)).A!;
    expect(one(lag, { time: at(1), asn: '21299' })).toMatchObject({ p50: 5, p95: 7200, max: 7200 });
    expect(one(lag, { time: at(2), asn: '21299' })).toMatchObject({ p50: 5, p95: 5, max: 5 });

    const backlog = (await panel(dash, 'Spool backlog: measurements delivered over an hour late', values)).A!;
    expect(backlog.map((r) => [r.time, r.asn, r.late])).toEqual([[at(1), '21299', 4]]);

    const drops = (await panel(dash, 'Spool drops', values)).A!;
    expect(drops.map((r) => [r.time, r.asn, r.dropped])).toEqual([[at(1), '21299', 15]]);

    const versions = (await panel(dash, 'Software versions per network', values)).A!;
    expect(versions.map((r) => [r.asn, r.version]).sort()).toEqual([['21299', '0.1.0'], ['48503', '0.2.0'], ['9198', '0.1.0']]);

    // The control vantage's last run: its time (shown as "… ago") and how many targets it measured.
    const control = (await panel(dash, 'Control vantage: last run', values)).A!;
    expect(control.map((r) => [r.vantage, r.targets])).toEqual([['DE', 26]]);

    const notes = await run(dash.annotations.list[0]!.query, { ...values, asn: ['21299'] }, dash.templating.list);
    expect(notes.map((r) => r.text)).toEqual(['partial of telegram on AS21299 by tcp, 2 probes']);
  });

  it('ran every query of every dashboard, and each returned data except the listed pending panels', () => {
    const pending = new Set<string>();
    for (const { dash } of dashboards) {
      for (const p of dash.panels) if (PENDING_DATA.has(`${dash.uid}/${p.title}`)) for (const t of p.targets) pending.add(t.query);
    }
    expect(pending.size).toBe(PENDING_DATA.size);
    for (const { file, dash } of dashboards) {
      const all = queriesIn(dash);
      expect(all.length, file).toBeGreaterThan(5);
      for (const query of all) {
        expect(executed.has(query), `${file}: never executed: ${query}`).toBe(true);
        if (pending.has(query)) expect(executed.get(query), `${file}: pending panel answered data: ${query}`).toBe(0);
        else expect(executed.get(query), `${file}: never returned data: ${query}`).toBeGreaterThan(0);
      }
    }
  });
});
