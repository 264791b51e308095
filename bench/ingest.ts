// Ingest benchmark on loopback: simulated probes post signed gzip batches to a real collector, embedded and with the InfluxDB sink to a real VictoriaMetrics.
//
//   npx tsx bench/ingest.ts [--measurements 40000] [--batch 100] [--probes 16] [--concurrency 8] [--seconds 60]
//
// Phases, each bounded by --measurements and --seconds, all on 127.0.0.1:
//   (a)  the collector alone (embedded store): accepted measurements/s and batch latency p50/p99;
//   (b)  the same with the InfluxDB sink following the archive into VictoriaMetrics, plus the rate
//        at which the sink had everything acknowledged;
//   (c)  the sink alone catching up on (a)'s archive (its own ceiling: read, convert, write);
//   raw  the same line protocol posted straight to the same VictoriaMetrics, one 5000-line request
//        at a time as the sink sends them (the limit the sink is measured against).
// The probes run in a child process so that the collector has its process's thread to itself.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { Archive, type ArchivedRecord } from '../collector/archive.js';
import { DEFAULT_LIMITS, type CollectorConfig } from '../collector/config.js';
import { toLines } from '../collector/influx/line.js';
import { InfluxSink, type SinkLogger } from '../collector/influx/sink.js';
import { createCollector, type CollectorDeps } from '../collector/server.js';
import { loadTargetList } from '../collector/targets.js';
import { systemClock } from '../probe/deps.js';
import { MEASUREMENT_SCHEMA, type Measurement } from '../probe/measurement.js';
import type { Target } from '../probe/target.js';
import { ulid } from '../probe/ulid.js';
import { encodeBatch, signBatch, type BatchAnswer } from '../probe/upload/wire.js';
import type { Decision } from '../probe/verdict.js';
import { findVictoriaMetrics, VictoriaMetrics } from '../test/services/victoria-metrics.js';

interface Settings {
  measurements: number;
  batch: number;
  probes: number;
  concurrency: number;
  seconds: number;
}

const USAGE = 'usage: npx tsx bench/ingest.ts [--measurements N] [--batch N] [--probes N] [--concurrency N] [--seconds N]';

function settings(argv: string[]): Settings {
  const s: Settings = { measurements: 40_000, batch: 100, probes: 16, concurrency: 8, seconds: 60 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') as keyof Settings | undefined;
    const value = Number(argv[i + 1]);
    if (key === undefined || !(key in s) || !Number.isInteger(value) || value <= 0) throw new Error(`${USAGE}\n(bad: ${argv[i]} ${argv[i + 1] ?? ''})`);
    s[key] = value;
  }
  return s;
}

const TOKEN = 'bench-enrollment-token-0123456789';
const ASNS = [9198, 21299, 48503, 35104, 206026];
const RAW_LINES_PER_REQUEST = 5000;

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

interface PhaseResult extends LoadResult {
  /** (b): epoch ms when the sink had every accepted measurement acknowledged, or null if it did not in time. */
  drainedAt?: number | null;
  /** CPU seconds of the collector's process (sink included) and of VictoriaMetrics during the phase. */
  collectorCpu: number;
  vmCpu: number | null;
}

/** Run the probes against a fresh collector; with `influxUrl`, an InfluxDB sink follows its archive. Returns the data dir (caller removes it). */
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
  };
  let sink: InfluxSink | null = null;
  const deps: CollectorDeps = { clock: systemClock, log: false, targets };
  if (influxUrl !== null) {
    deps.sinks = ({ archive }) => {
      const created = new InfluxSink({
        url: influxUrl,
        token: 'bench',
        org: 'ashyq',
        bucket: 'ashyq',
        stateDir: path.join(dir, 'sink'),
        source: (from) => archive.read(from),
        logger: sinkLogger,
      });
      created.start();
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
    const load = await probesInChild(job);
    const result: PhaseResult = { ...load, collectorCpu: 0, vmCpu: null };
    const active = sink as InfluxSink | null;
    if (active !== null) {
      const drained = await Promise.race([
        active.drain(),
        new Promise<false>((r) => setTimeout(() => r(false), s.seconds * 1000).unref()),
      ]);
      result.drainedAt = drained ? Date.now() : null;
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

/** (c): a fresh sink (no cursor) over a finished archive: records per second until all acknowledged. */
async function runCatchUp(s: Settings, archiveDir: string, stateDir: string, influxUrl: string): Promise<{ records: number; seconds: number } | null> {
  const archive = await Archive.open(archiveDir, systemClock, { readonly: true });
  process.stdout.write('  (c) sink catching up on (a)\'s archive ... ');
  const sink = new InfluxSink({ url: influxUrl, token: 'bench', org: 'ashyq', bucket: 'ashyq', stateDir, source: (from) => archive.read(from), logger: sinkLogger });
  const start = performance.now();
  sink.start();
  try {
    const drained = await Promise.race([sink.drain(), new Promise<false>((r) => setTimeout(() => r(false), s.seconds * 1000).unref())]);
    const seconds = (performance.now() - start) / 1000;
    console.log('done');
    return drained ? { records: sink.stats().written, seconds } : null;
  } finally {
    await sink.stop();
    await archive.close();
  }
}

/** raw: the same kind of lines straight to VictoriaMetrics, one request at a time, for at least ~3 s. */
async function runRaw(s: Settings, vm: VictoriaMetrics, targets: readonly Target[]): Promise<{ lines: number; seconds: number }> {
  const now = Date.now();
  const lines: string[] = [];
  for (let i = 0; i < s.measurements; i++) {
    const probe = { id: `raw-probe-${i % 16}`, asn: ASNS[i % ASNS.length]! };
    const m = measurement(probe, targets[i % targets.length]!, i, now - 7_200_000 + (i % 3_500_000));
    const record: ArchivedRecord = { received_at: new Date(now).toISOString(), probe_id: probe.id, asn: probe.asn, cc: 'KZ', network: null, measurement: m };
    lines.push(...toLines(record));
  }
  const bodies: Array<{ text: string; lines: number }> = [];
  for (let i = 0; i < lines.length; i += RAW_LINES_PER_REQUEST) {
    const chunk = lines.slice(i, i + RAW_LINES_PER_REQUEST);
    bodies.push({ text: chunk.join('\n'), lines: chunk.length });
  }
  process.stdout.write(`  raw line protocol: ${lines.length} lines in requests of ${RAW_LINES_PER_REQUEST} ... `);
  const pool = new Pool(vm.url, { connections: 1 });
  const start = performance.now();
  const deadline = start + s.seconds * 1000;
  let sent = 0;
  try {
    // Repeat the set (same points again: the same work for the server) until ~3 s have passed.
    for (let round = 0; round < 20 && (round === 0 || performance.now() - start < 3000); round++) {
      for (const body of bodies) {
        if (performance.now() > deadline) break;
        const res = await pool.request({ method: 'POST', path: '/api/v2/write?org=ashyq&bucket=ashyq&precision=ns', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: body.text });
        const text = await res.body.text();
        if (res.statusCode !== 204) throw new Error(`raw write: HTTP ${res.statusCode} ${text}`);
        sent += body.lines;
      }
    }
  } finally {
    await pool.close();
  }
  console.log('done');
  return { lines: sent, seconds: (performance.now() - start) / 1000 };
}

function row(cells: string[]): string {
  const widths = [42, 14, 9, 9, 10];
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' ');
}

async function main(): Promise<void> {
  const s = settings(process.argv.slice(2));
  console.log(`ingest bench: ${s.measurements} measurements per phase, ${os.cpus().length} CPUs, node ${process.version}`);
  const lookup = findVictoriaMetrics();
  const vm = lookup.path !== null ? await VictoriaMetrics.start(lookup) : null;
  if (vm === null) console.log(`  (b), (c) and raw need VictoriaMetrics, skipped: ${lookup.message}`);
  const dirs: string[] = [];
  try {
    const a = await runPhase(s, '(a) embedded', vm, false);
    dirs.push(a.dir);
    const b = vm !== null ? await runPhase(s, '(b) embedded + InfluxDB sink', vm, true) : null;
    if (b !== null) dirs.push(b.dir);
    const c = vm !== null ? await runCatchUp(s, path.join(a.dir, 'collector', 'archive'), path.join(a.dir, 'catch-up'), vm.url) : null;
    const raw = vm !== null ? await runRaw(s, vm, (await loadTargetList(null)).targets) : null;

    const rate = (n: number, ms: number) => ((n * 1000) / ms).toFixed(0);
    console.log('');
    console.log(row(['phase', 'per second', 'p50 ms', 'p99 ms', 'count']));
    const ingestRow = (name: string, r: PhaseResult) =>
      console.log(row([name, rate(r.accepted, r.endedAt - r.startedAt), r.p50.toFixed(1), r.p99.toFixed(1), String(r.accepted)]));
    ingestRow('(a) embedded: accepted measurements', a.result);
    if (b !== null) {
      ingestRow('(b) + InfluxDB sink: accepted measurements', b.result);
      if (b.result.drainedAt != null) console.log(row(['(b) sink: acknowledged by VictoriaMetrics', rate(b.result.accepted, b.result.drainedAt - b.result.startedAt), '-', '-', String(b.result.accepted)]));
    }
    if (c !== null) console.log(row(['(c) sink alone, catching up (records)', rate(c.records, c.seconds * 1000), '-', '-', String(c.records)]));
    if (raw !== null) console.log(row(['raw line protocol → VictoriaMetrics', rate(raw.lines, raw.seconds * 1000), '-', '-', String(raw.lines)]));
    for (const [name, r] of [['(a)', a.result], ['(b)', b?.result]] as const) {
      if (r !== undefined && (r.rejected > 0 || r.failedRequests > 0)) {
        console.log(`\nWARNING ${name}: ${r.rejected} rejected measurements, ${r.failedRequests} failed requests: ${r.problems.join(' | ')}`);
      }
    }
    const aRate = (a.result.accepted * 1000) / (a.result.endedAt - a.result.startedAt);
    console.log('');
    console.log(`embedded: ${aRate.toFixed(0)} measurements/s (goal ≥ 5000 on 2 cores)`);
    if (b !== null) {
      const bRate = (b.result.accepted * 1000) / (b.result.endedAt - b.result.startedAt);
      console.log(`with the InfluxDB sink: ${((bRate / aRate) * 100).toFixed(0)} % of the embedded rate`);
      if (raw !== null) console.log(`with the InfluxDB sink / raw line-protocol rate = ${((bRate / (raw.lines / raw.seconds)) * 100).toFixed(1)} % (goal ≥ 50 %)`);
    }
    if (c !== null && raw !== null) {
      console.log(`sink alone (catch-up) / raw line-protocol rate = ${((c.records / c.seconds / (raw.lines / raw.seconds)) * 100).toFixed(1)} %`);
    }
    console.log('');
    console.log('CPU seconds per phase (the probes, the collector with its sink, VictoriaMetrics share the same cores):');
    for (const [name, r] of [['(a)', a.result], ['(b)', b?.result]] as const) {
      if (r === undefined) continue;
      const wall = ((r.drainedAt ?? r.endedAt) - r.startedAt) / 1000;
      console.log(`  ${name} wall ${wall.toFixed(2)} s: probes ${r.probesCpu.toFixed(2)}, collector ${r.collectorCpu.toFixed(2)}, VictoriaMetrics ${r.vmCpu === null ? '?' : r.vmCpu.toFixed(2)}`);
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
