// Ingest benchmark on loopback: simulated probes post signed gzip batches to a real collector, embedded and with the InfluxDB sink to a real VictoriaMetrics.
//
//   npx tsx bench/ingest.ts [--measurements 40000] [--batch 100] [--probes 16] [--concurrency 8] [--seconds 60]
//                           [--sink-batch 5000] [--in-flight 4] [--gzip 0]
//
// Phases, each bounded by --measurements and --seconds, all on 127.0.0.1:
//   (a)  the collector alone (embedded store): accepted measurements/s and batch latency p50/p99;
//   (b)  the same with the InfluxDB sink (taking the server's handoffs, reading the archive when
//        behind) writing into VictoriaMetrics, plus the rate at which the sink had everything
//        acknowledged;
//   (c)  the sink alone catching up on (a)'s archive (its ceiling when it must read the archive);
//   (d)  the sink alone fed by handoffs as fast as it takes them (its ceiling when caught up:
//        convert and write);
//   raw  the same line protocol posted straight to the same VictoriaMetrics: once with the sink's
//        request size, connections and compression (bodies built beforehand), and the best of a few
//        larger settings (the limit the sink is measured against).
// Then the CPU each process spent per measurement (per line for raw), and what that allows (b) on
// these cores at most.
// The probes run in a child process so that the collector has its process's thread to itself.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { Archive, type ArchivedRecord } from '../collector/storage/archive.js';
import { DEFAULT_LIMITS, type CollectorConfig, DEFAULT_EVENTS } from '../collector/config.js';
import { toLines } from '../collector/sinks/influx/line.js';
import type { ArchiveSource } from '../collector/pipeline/archive-tail.js';
import { InfluxSink, type SinkLogger, type SinkStats } from '../collector/sinks/influx/sink.js';
import { createCollector, type CollectorDeps } from '../collector/app.js';
import { loadTargetList } from '../collector/targets/list.js';
import { systemClock } from '../common/clock.js';
import { MEASUREMENT_SCHEMA, type Measurement } from '../contract/measurement.js';
import type { Target } from '../contract/target.js';
import { ulid } from '../probe/ulid.js';
import { encodeBatch, signBatch, type BatchAnswer } from '../contract/wire.js';
import type { Decision } from '../contract/verdict.js';
import { MemoryArchive } from '../test/services/archive-records.js';
import { findVictoriaMetrics, VictoriaMetrics } from '../test/services/victoria-metrics.js';

interface Settings {
  measurements: number;
  batch: number;
  probes: number;
  concurrency: number;
  seconds: number;
  /** The sink's points per request, requests in flight, and gzip (1) or not (0). */
  'sink-batch': number;
  'in-flight': number;
  gzip: number;
}

const USAGE =
  'usage: npx tsx bench/ingest.ts [--measurements N] [--batch N] [--probes N] [--concurrency N] [--seconds N] [--sink-batch N] [--in-flight N] [--gzip 0|1]';

function settings(argv: string[]): Settings {
  const s: Settings = { measurements: 40_000, batch: 100, probes: 16, concurrency: 8, seconds: 60, 'sink-batch': 5000, 'in-flight': 4, gzip: 0 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') as keyof Settings | undefined;
    const value = Number(argv[i + 1]);
    const ok = key !== undefined && key in s && Number.isInteger(value) && (key === 'gzip' ? value === 0 || value === 1 : value > 0);
    if (!ok) throw new Error(`${USAGE}\n(bad: ${argv[i]} ${argv[i + 1] ?? ''})`);
    s[key] = value;
  }
  return s;
}

const TOKEN = 'bench-enrollment-token-0123456789';
const ASNS = [9198, 21299, 48503, 35104, 206026];

const DECISIONS: Decision[] = [
  { verdict: 'ok', layer: null, confidence: 1, reason: 'all layers answered', subjects: [] },
  { verdict: 'ok', layer: null, confidence: 1, reason: 'all layers answered', subjects: [] },
  { verdict: 'ok', layer: null, confidence: 1, reason: 'all layers answered', subjects: [] },
  { verdict: 'tls.reset', layer: 'tls', confidence: 0.9, reason: 'reset after ClientHello with the target SNI', subjects: ['www.example.com'] },
  { verdict: 'dns.nxdomain', layer: 'dns', confidence: 0.8, reason: 'NXDOMAIN via system', subjects: ['www.example.com'] },
];

interface SimProbe {
  id: string;
  asn: number;
  privateKeyPem: string;
  publicKeyPem: string;
}

/** A measurement with evidence on DNS, TCP and TLS, about the size a real probe sends. */
function measurement(probe: { id: string; asn: number }, target: Target, i: number, at: number): Measurement {
  const decision = DECISIONS[i % DECISIONS.length]!;
  const domain = target.domains[0] ?? `${target.id}.example`;
  const ip = `192.0.2.${(i % 250) + 1}`; // documentation range: data only, never dialled
  const reset = decision.verdict === 'tls.reset';
  const nx = decision.verdict === 'dns.nxdomain';
  return {
    schema: MEASUREMENT_SCHEMA,
    id: ulid(at),
    probe: { id: probe.id, asn: probe.asn, cc: 'KZ', network: `AS${probe.asn}`, software: { name: 'ashyq-probe', version: '0.1.0' } },
    target: { id: target.id, category: target.category },
    started_at: new Date(at).toISOString(),
    runtime_ms: 700 + (i % 400),
    evidence: {
      dns: [
        {
          domain,
          queries: [
            {
              domain,
              qtype: 'A',
              resolver: 'system',
              kind: 'system',
              rcode: nx ? 'NXDOMAIN' : 'NOERROR',
              addresses: nx ? [] : [ip],
              ttl: 300,
              rtt_ms: 11.5,
              late: [],
              bogons: [],
              failure: nx ? 'dns_nxdomain_error' : null,
              operation: nx ? 'resolve' : null,
              error: nx ? 'queryA ENOTFOUND' : null,
            },
          ],
        },
      ],
      tcp: [{ domain, ip, port: 443, rtt_ms: 30 + (i % 40), failure: null, operation: null, error: null }],
      tls: [
        {
          domain,
          ip,
          port: 443,
          sni: domain,
          version: reset ? null : 'TLSv1.3',
          cipher: reset ? null : 'TLS_AES_128_GCM_SHA256',
          alpn: null,
          chain: reset
            ? []
            : [
                {
                  subject: `CN=${domain}`,
                  issuer: 'C=US, O=Example Trust, CN=Example CA',
                  fingerprint256: 'AB:CD:EF:01',
                  spki_sha256: 'c3BraQ==',
                  serial: '01',
                  valid_from: 'Apr  1 00:00:00 2026 GMT',
                  valid_to: 'Jun 24 00:00:00 2027 GMT',
                  san: [domain],
                },
              ],
          trusted: reset ? null : true,
          hostname_ok: reset ? null : true,
          validation_error: null,
          rtt_ms: reset ? null : 70,
          failure: reset ? 'connection_reset' : null,
          operation: reset ? 'tls_handshake' : null,
          error: reset ? 'read ECONNRESET' : null,
          neutral: null,
        },
      ],
      http: [],
    },
    timing: { dns: 12, tcp: 30, tls: 70, http: 0 },
    verdict: decision,
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); null elsewhere. */
function processCpu(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// ── the probes (child process) ─────────────────────────────────────────────────────────────────

interface LoadJob {
  url: string;
  settings: Settings;
  targets: Target[];
}

interface LoadResult {
  accepted: number;
  rejected: number;
  failedRequests: number;
  /** Epoch ms of the first post and the last answer. */
  startedAt: number;
  endedAt: number;
  p50: number;
  p99: number;
  batches: number;
  problems: string[];
  /** CPU seconds the probes' process used while posting. */
  probesCpu: number;
}

async function runProbes(job: LoadJob): Promise<LoadResult> {
  const s = job.settings;
  const client = new Pool(job.url, { connections: s.concurrency });
  try {
    const probes: SimProbe[] = Array.from({ length: s.probes }, (_, i) => {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      return {
        id: `bench-probe-${String(i).padStart(4, '0')}`,
        asn: ASNS[i % ASNS.length]!,
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      };
    });
    for (const p of probes) {
      const res = await client.request({
        method: 'POST',
        path: '/api/v1/probes',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ enrollment_token: TOKEN, public_key: p.publicKeyPem, probe_id: p.id }),
      });
      const text = await res.body.text();
      if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`registration: HTTP ${res.statusCode} ${text}`);
    }
    const keys = new Map(probes.map((p) => [p.id, p.privateKeyPem]));

    // Gzip bodies are built before the clock starts; signing happens at send time, as a probe does.
    const now = Date.now();
    const batches: Array<{ probe: string; body: Buffer }> = [];
    for (let i = 0, b = 0; i < s.measurements; b++) {
      const probe = probes[b % probes.length]!;
      const items: Measurement[] = [];
      for (let k = 0; k < s.batch && i < s.measurements; k++, i++) {
        items.push(measurement(probe, job.targets[i % job.targets.length]!, i, now - 3_600_000 + (i % 3_500_000)));
      }
      batches.push({ probe: probe.id, body: encodeBatch({ probe_id: probe.id, measurements: items }) });
    }

    const latencies: number[] = [];
    const problems: string[] = [];
    let accepted = 0;
    let rejected = 0;
    let failedRequests = 0;
    let next = 0;
    const cpuBefore = process.cpuUsage();
    const startedAt = Date.now();
    const deadline = startedAt + s.seconds * 1000;
    const worker = async () => {
      while (next < batches.length && Date.now() < deadline) {
        const batch = batches[next++]!;
        const t0 = performance.now();
        const headers = signBatch(keys.get(batch.probe)!, batch.probe, batch.body, Date.now());
        const res = await client.request({ method: 'POST', path: '/api/v1/measurements', headers: { ...headers }, body: batch.body });
        const text = await res.body.text();
        latencies.push(performance.now() - t0);
        if (res.statusCode !== 200) {
          failedRequests++;
          if (problems.length < 3) problems.push(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
          continue;
        }
        for (const r of (JSON.parse(text) as BatchAnswer).results) {
          if (r.status === 'accepted') accepted++;
          else {
            rejected++;
            if (problems.length < 3) problems.push(`${r.status}: ${r.code ?? ''} ${r.reason ?? ''}`);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: s.concurrency }, worker));
    const endedAt = Date.now();
    const cpu = process.cpuUsage(cpuBefore);
    latencies.sort((a, b) => a - b);
    return {
      accepted,
      rejected,
      failedRequests,
      startedAt,
      endedAt,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      batches: latencies.length,
      problems,
      probesCpu: (cpu.user + cpu.system) / 1e6,
    };
  } finally {
    await client.close();
  }
}

const PROBES_FLAG = '--probes-process';

function probesInChild(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [PROBES_FLAG], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let settled = false;
    child.once('message', (m: { ok: true; result: LoadResult } | { ok: false; error: string }) => {
      settled = true;
      if (m.ok) resolve(m.result);
      else reject(new Error(m.error));
      child.disconnect();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (!settled) reject(new Error(`probe process exited with code ${code}`));
    });
    child.send(job);
  });
}

// ── the collector (this process) ────────────────────────────────────────────────────────────────

const sinkLogger: SinkLogger = {
  info: () => undefined,
  warn: (m) => console.warn(`\n  sink: ${m}`),
  error: (m) => console.error(`\n  sink: ${m}`),
};

function newSink(s: Settings, url: string, stateDir: string, source: ArchiveSource): InfluxSink {
  return new InfluxSink({
    url,
    token: 'bench',
    org: 'ashyq',
    bucket: 'ashyq',
    stateDir,
    source,
    logger: sinkLogger,
    batchSize: s['sink-batch'],
    maxInFlight: s['in-flight'],
    gzip: s.gzip === 1,
  });
}

interface PhaseResult extends LoadResult {
  /** (b): epoch ms when the sink had every accepted measurement acknowledged, or null if it did not in time. */
  drainedAt?: number | null;
  /** (b): where the sink's records came from. */
  sink?: SinkStats;
  /** CPU seconds of the collector's process (sink included) and of VictoriaMetrics during the phase. */
  collectorCpu: number;
  vmCpu: number | null;
  /** Main-thread seconds the event detector spent during the phase (counting, deriving, saving), and the measurements it counted. */
  detector: { seconds: number; observations: number };
}

/** Run the probes against a fresh collector; with `withSink`, an InfluxDB sink takes its handoffs and follows its archive. Returns the data dir (caller removes it). */
async function runPhase(s: Settings, label: string, vm: VictoriaMetrics | null, withSink: boolean): Promise<{ result: PhaseResult; dir: string }> {
  const influxUrl = withSink && vm !== null ? vm.url : null;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-bench-'));
  const targets = await loadTargetList(null);
  const config: CollectorConfig = {
    data_dir: path.join(dir, 'collector'),
    listen: { host: '127.0.0.1', port: 0 },
    tls: null,
    trust_proxy: false,
    enrollment_tokens: [TOKEN],
    targets_file: null,
    limits: { ...structuredClone(DEFAULT_LIMITS), max_batch_items: Math.max(1000, s.batch), rate_per_probe: { per_minute: 1_000_000, burst: 1_000_000 } },
    influx: null,
    ip_db: null,
    events: structuredClone(DEFAULT_EVENTS),
  };
  let sink: InfluxSink | null = null;
  const deps: CollectorDeps = { clock: systemClock, log: false, targets };
  if (influxUrl !== null) {
    deps.followers = ({ archive }) => {
      const created = newSink(s, influxUrl, path.join(dir, 'sink'), (from) => archive.read(from));
      sink = created;
      return [created];
    };
  }
  const collector = await createCollector(config, deps);
  let completed = false;
  try {
    const address = await collector.app.listen({ host: '127.0.0.1', port: 0 });
    process.stdout.write(`  ${label}: ${Math.ceil(s.measurements / s.batch)} batches of ${s.batch} from ${s.probes} probes, ${s.concurrency} in flight ... `);
    const job = { url: new URL(address.replace('localhost', '127.0.0.1')).origin, settings: s, targets: [...targets.targets] };
    const cpuBefore = process.cpuUsage();
    const vmBefore = processCpu(vm?.pid);
    const workBefore = collector.events.work;
    const load = await probesInChild(job);
    // What was counted and not yet derived is derived now, inside the measured phase.
    collector.events.settle();
    const workAfter = collector.events.work;
    const detector = { seconds: workAfter.busySeconds - workBefore.busySeconds, observations: workAfter.observations - workBefore.observations };
    const result: PhaseResult = { ...load, collectorCpu: 0, vmCpu: null, detector };
    const active = sink as InfluxSink | null;
    if (active !== null) {
      const drained = await Promise.race([
        active.drain(),
        new Promise<false>((r) => setTimeout(() => r(false), s.seconds * 1000).unref()),
      ]);
      result.drainedAt = drained ? Date.now() : null;
      result.sink = active.stats();
      if (!drained) console.error(`\n  the sink did not drain within ${s.seconds} s (backlog ${active.backlog()})`);
    }
    const cpu = process.cpuUsage(cpuBefore);
    result.collectorCpu = (cpu.user + cpu.system) / 1e6;
    const vmAfter = processCpu(vm?.pid);
    result.vmCpu = vmBefore !== null && vmAfter !== null ? vmAfter - vmBefore : null;
    console.log('done');
    completed = true;
    return { result, dir };
  } finally {
    await collector.close();
    await (sink as InfluxSink | null)?.stop();
    if (!completed) await rm(dir, { recursive: true, force: true });
  }
}

function within<T>(s: Settings, work: Promise<T>): Promise<T | false> {
  return Promise.race([work, new Promise<false>((r) => setTimeout(() => r(false), s.seconds * 1000).unref())]);
}

/** (c): a fresh sink (no cursor) over a finished archive: records per second until all acknowledged. */
async function runCatchUp(s: Settings, archiveDir: string, stateDir: string, influxUrl: string): Promise<{ records: number; seconds: number } | null> {
  const archive = await Archive.open(archiveDir, systemClock, { readonly: true });
  process.stdout.write('  (c) sink catching up on (a)\'s archive ... ');
  const sink = newSink(s, influxUrl, stateDir, (from) => archive.read(from));
  const start = performance.now();
  sink.start();
  try {
    const drained = await within(s, sink.drain());
    const seconds = (performance.now() - start) / 1000;
    console.log('done');
    return drained ? { records: sink.stats().written, seconds } : null;
  } finally {
    await sink.stop();
    await archive.close();
  }
}

/** The bench's measurements as archived records (a fixed set, built before any clock starts). */
function benchRecords(s: Settings, targets: readonly Target[], shiftMs: number): ArchivedRecord[] {
  const now = Date.now();
  const records: ArchivedRecord[] = [];
  for (let i = 0; i < s.measurements; i++) {
    const probe = { id: `raw-probe-${i % 16}`, asn: ASNS[i % ASNS.length]! };
    const m = measurement(probe, targets[i % targets.length]!, i, now - shiftMs + (i % 3_500_000));
    records.push({ received_at: new Date(now).toISOString(), probe_id: probe.id, asn: probe.asn, cc: 'KZ', network: null, measurement: m });
  }
  return records;
}

/**
 * (d): a fresh sink over an (in-memory) archive that starts empty, handed batches of `s.batch`
 * records as fast as it takes them: records per second until all acknowledged.
 */
async function runHandoff(s: Settings, stateDir: string, influxUrl: string, targets: readonly Target[]): Promise<{ records: number; seconds: number; handedOver: number } | null> {
  const records = benchRecords(s, targets, 10_800_000);
  const archive = new MemoryArchive();
  const sink = newSink(s, influxUrl, stateDir, archive.source);
  sink.start();
  try {
    if ((await within(s, sink.drain())) === false) return null; // its first pass: the archive is empty
    process.stdout.write('  (d) sink alone, fed by handoffs ... ');
    const start = performance.now();
    for (let i = 0; i < records.length; i += s.batch) {
      const chunk = records.slice(i, i + s.batch);
      archive.append(chunk);
      sink.offer(chunk, { from: { segment: 'mem', offset: i }, to: { segment: 'mem', offset: i + chunk.length } });
      if ((i / s.batch) % 10 === 9) await new Promise((r) => setImmediate(r)); // let it write, as ingest would
    }
    const drained = await within(s, sink.drain());
    const seconds = (performance.now() - start) / 1000;
    console.log('done');
    return drained ? { records: sink.stats().written, seconds, handedOver: sink.stats().handedOver } : null;
  } finally {
    await sink.stop();
  }
}

interface RawSetting {
  lines: number;
  connections: number;
  gzip: boolean;
}

interface RawResult extends RawSetting {
  sent: number;
  seconds: number;
  /** CPU seconds of VictoriaMetrics and of this process (the client) while posting. */
  vmCpu: number | null;
  clientCpu: number;
}

/** raw: the bench's lines straight to VictoriaMetrics with bodies built (and gzipped) beforehand, for about `ms`. */
async function runRaw(vm: VictoriaMetrics, lines: readonly string[], setting: RawSetting, ms: number): Promise<RawResult> {
  const bodies: Array<{ body: Buffer; lines: number }> = [];
  for (let i = 0; i < lines.length; i += setting.lines) {
    const chunk = lines.slice(i, i + setting.lines);
    const text = Buffer.from(chunk.join('\n'));
    bodies.push({ body: setting.gzip ? gzipSync(text, { level: 1 }) : text, lines: chunk.length });
  }
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (setting.gzip) headers['content-encoding'] = 'gzip';
  const pool = new Pool(vm.url, { connections: setting.connections });
  let sent = 0;
  let next = 0;
  const vmBefore = processCpu(vm.pid);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  try {
    // Repeat the set (same points again: the same work for the server) until `ms` have passed.
    const worker = async () => {
      while (performance.now() - start < ms) {
        const body = bodies[next++ % bodies.length]!;
        const res = await pool.request({ method: 'POST', path: '/api/v2/write?org=ashyq&bucket=ashyq&precision=ns', headers, body: body.body });
        const text = await res.body.text();
        if (res.statusCode !== 204) throw new Error(`raw write: HTTP ${res.statusCode} ${text}`);
        sent += body.lines;
      }
    };
    await Promise.all(Array.from({ length: setting.connections }, worker));
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const vmAfter = processCpu(vm.pid);
  return { ...setting, sent, seconds, vmCpu: vmBefore !== null && vmAfter !== null ? vmAfter - vmBefore : null, clientCpu: (cpu.user + cpu.system) / 1e6 };
}

function rawLabel(r: RawSetting): string {
  return `${r.lines} lines × ${r.connections} conn${r.gzip ? ', gzip' : ''}`;
}

function row(cells: string[]): string {
  const widths = [52, 12, 9, 9, 10];
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ');
}

async function main(): Promise<void> {
  const s = settings(process.argv.slice(2));
  console.log(
    `ingest bench: ${s.measurements} measurements per phase, ${os.cpus().length} CPUs, node ${process.version}; ` +
      `sink: ${s['sink-batch']} points per request, ${s['in-flight']} in flight, gzip ${s.gzip === 1 ? 'on' : 'off'}`,
  );
  const lookup = findVictoriaMetrics();
  const vm = lookup.path !== null ? await VictoriaMetrics.start(lookup) : null;
  if (vm === null) console.log(`  (b), (c), (d) and raw need VictoriaMetrics, skipped: ${lookup.message}`);
  const dirs: string[] = [];
  try {
    const targets = (await loadTargetList(null)).targets;
    const a = await runPhase(s, '(a) embedded', vm, false);
    dirs.push(a.dir);
    const b = vm !== null ? await runPhase(s, '(b) embedded + InfluxDB sink', vm, true) : null;
    if (b !== null) dirs.push(b.dir);
    const c = vm !== null ? await runCatchUp(s, path.join(a.dir, 'collector', 'archive'), path.join(a.dir, 'catch-up'), vm.url) : null;
    const d = vm !== null ? await runHandoff(s, path.join(a.dir, 'handoff'), vm.url, targets) : null;
    let rawAtSink: RawResult | null = null;
    const rawOthers: RawResult[] = [];
    if (vm !== null) {
      const lines = benchRecords(s, targets, 7_200_000).flatMap(toLines);
      const atSink: RawSetting = { lines: s['sink-batch'], connections: s['in-flight'], gzip: s.gzip === 1 };
      const grid: RawSetting[] = [
        { lines: 5000, connections: 1, gzip: false },
        { lines: 5000, connections: 4, gzip: false },
        { lines: 20_000, connections: 1, gzip: false },
        { lines: 20_000, connections: 4, gzip: false },
        { lines: 5000, connections: 4, gzip: true },
        { lines: 20_000, connections: 4, gzip: true },
      ];
      process.stdout.write(`  raw line protocol: ${lines.length} lines, at the sink's settings (${rawLabel(atSink)}) and ${grid.length} others ... `);
      await runRaw(vm, lines, atSink, 1000); // warm-up
      rawAtSink = await runRaw(vm, lines, atSink, 3000);
      for (const setting of grid) rawOthers.push(await runRaw(vm, lines, setting, 2000));
      console.log('done');
    }

    const perS = (n: number, ms: number) => (n * 1000) / ms;
    const rate = (n: number, ms: number) => perS(n, ms).toFixed(0);
    console.log('');
    console.log(row(['phase', 'per second', 'p50 ms', 'p99 ms', 'count']));
    const ingestRow = (name: string, r: PhaseResult) =>
      console.log(row([name, rate(r.accepted, r.endedAt - r.startedAt), r.p50.toFixed(1), r.p99.toFixed(1), String(r.accepted)]));
    ingestRow('(a) embedded: accepted measurements', a.result);
    if (b !== null) {
      ingestRow('(b) + InfluxDB sink: accepted measurements', b.result);
      if (b.result.drainedAt != null) console.log(row(['(b) sink: acknowledged by VictoriaMetrics', rate(b.result.accepted, b.result.drainedAt - b.result.startedAt), '-', '-', String(b.result.accepted)]));
    }
    if (c !== null) console.log(row(['(c) sink alone, catching up from the archive', rate(c.records, c.seconds * 1000), '-', '-', String(c.records)]));
    if (d !== null) console.log(row(['(d) sink alone, fed by handoffs', rate(d.records, d.seconds * 1000), '-', '-', String(d.records)]));
    let rawMax: RawResult | null = rawAtSink;
    if (rawAtSink !== null) console.log(row([`raw at the sink's settings (${rawLabel(rawAtSink)})`, rate(rawAtSink.sent, rawAtSink.seconds * 1000), '-', '-', String(rawAtSink.sent)]));
    for (const r of rawOthers) {
      console.log(row([`raw ${rawLabel(r)}`, rate(r.sent, r.seconds * 1000), '-', '-', String(r.sent)]));
      if (rawMax === null || r.sent / r.seconds > rawMax.sent / rawMax.seconds) rawMax = r;
    }
    for (const [name, r] of [['(a)', a.result], ['(b)', b?.result]] as const) {
      if (r !== undefined && (r.rejected > 0 || r.failedRequests > 0)) {
        console.log(`\nWARNING ${name}: ${r.rejected} rejected measurements, ${r.failedRequests} failed requests: ${r.problems.join(' | ')}`);
      }
    }
    const aRate = perS(a.result.accepted, a.result.endedAt - a.result.startedAt);
    const pct = (x: number, y: number) => `${((x / y) * 100).toFixed(1)} %`;
    console.log('');
    console.log(`embedded: ${aRate.toFixed(0)} measurements/s (goal ≥ 5000 on 2 cores)`);
    if (b !== null) {
      const bRate = perS(b.result.accepted, b.result.endedAt - b.result.startedAt);
      const st = b.result.sink;
      if (st !== undefined) console.log(`(b) the sink took ${st.handedOver} records by handoff and read ${st.readFromArchive} from the archive (${st.declinedOffers} handoffs declined)`);
      console.log(`(b) with the InfluxDB sink / (a) embedded (the collector's own ceiling) = ${pct(bRate, aRate)}`);
      if (rawAtSink !== null && rawMax !== null) {
        const atSinkRate = rawAtSink.sent / rawAtSink.seconds;
        const maxRate = rawMax.sent / rawMax.seconds;
        console.log(`(b) / raw at the sink's settings = ${pct(bRate, atSinkRate)}; (b) / max raw (${rawLabel(rawMax)}) = ${pct(bRate, maxRate)} (goal ≥ 50 %)`);
        if (c !== null) console.log(`(c) sink catching up / raw at the sink's settings = ${pct(c.records / c.seconds, atSinkRate)}; / max raw = ${pct(c.records / c.seconds, maxRate)}`);
        if (d !== null) console.log(`(d) sink fed by handoffs / raw at the sink's settings = ${pct(d.records / d.seconds, atSinkRate)}; / max raw = ${pct(d.records / d.seconds, maxRate)}`);
      }
    }
    console.log('');
    console.log('CPU seconds per phase (the probes, the collector with its sink, VictoriaMetrics share the same cores):');
    for (const [name, r] of [['(a)', a.result], ['(b)', b?.result]] as const) {
      if (r === undefined) continue;
      const wall = ((r.drainedAt ?? r.endedAt) - r.startedAt) / 1000;
      console.log(`  ${name} wall ${wall.toFixed(2)} s: probes ${r.probesCpu.toFixed(2)}, collector ${r.collectorCpu.toFixed(2)}, VictoriaMetrics ${r.vmCpu === null ? '?' : r.vmCpu.toFixed(2)}`);
    }
    const us = (cpuSeconds: number, n: number) => ((cpuSeconds * 1e6) / n).toFixed(1);
    console.log('CPU µs per measurement (raw: per line):');
    for (const [name, r] of [['(a)', a.result], ['(b)', b?.result]] as const) {
      if (r === undefined || r.accepted === 0) continue;
      console.log(`  ${name} probes ${us(r.probesCpu, r.accepted)}, collector ${us(r.collectorCpu, r.accepted)}, VictoriaMetrics ${r.vmCpu === null ? '?' : us(r.vmCpu, r.accepted)}`);
    }
    for (const [name, r] of [['(a)', a.result], ['(b)', b?.result]] as const) {
      if (r === undefined || r.accepted === 0) continue;
      console.log(
        `  ${name} of the collector's, the event detector (count, derive, save; ${r.detector.observations} counted): ${us(r.detector.seconds, r.accepted)} µs = ${pct(r.detector.seconds, r.collectorCpu)} of the collector's CPU per measurement (goal ≤ 10 %)`,
      );
    }
    if (rawAtSink !== null && rawAtSink.sent > 0) {
      console.log(`  raw at the sink's settings: VictoriaMetrics ${rawAtSink.vmCpu === null ? '?' : us(rawAtSink.vmCpu, rawAtSink.sent)}, the posting client ${us(rawAtSink.clientCpu, rawAtSink.sent)}`);
      if (b !== null && b.result.accepted > 0 && rawAtSink.vmCpu !== null) {
        // Probes left out (in production they run elsewhere): the most the collector could reach here.
        const perPoint = b.result.collectorCpu / b.result.accepted + rawAtSink.vmCpu / rawAtSink.sent;
        const cores = os.cpus().length;
        const ceiling = cores / perPoint;
        console.log(
          `  (b) ceiling with every one of the ${cores} cores busy and no probes on them: ${cores} / (collector ${us(b.result.collectorCpu, b.result.accepted)} + VictoriaMetrics ${us(rawAtSink.vmCpu, rawAtSink.sent)} µs) = ${ceiling.toFixed(0)}/s, ${pct(ceiling, rawAtSink.sent / rawAtSink.seconds)} of raw at the sink's settings`,
        );
      }
    }
  } finally {
    await vm?.destroy();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === PROBES_FLAG) {
  process.once('message', (job: LoadJob) => {
    runProbes(job).then(
      (result) => process.send?.({ ok: true, result }),
      (err: unknown) => process.send?.({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
