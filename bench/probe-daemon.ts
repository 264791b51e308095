// Benchmark: the built daemon as its own process over many short cycles against loopback fakes and a real collector.
// Prints, per cycle, the daemon's CPU seconds and its memory while idle between cycles (goal: RSS ≤ 70 MB): resident
// (RSS), private (anonymous pages: what the daemon itself allocated) and proportional (PSS), beside an idle bare node.
// The daemon runs as systemd would start deploy/ashyq-probe.service: a clean environment with the unit's Environment=
// (NODE_OPTIONS, MALLOC_ARENA_MAX, UV_THREADPOOL_SIZE), plus what the bin does at start (the probe's V8 flags); the
// output states what the daemon saw and how many threads it had. Only its network is the lab's (addresses mapped to
// loopback, a fake DNS server), so the child starts libuv's pool with lookups of localhost, as getaddrinfo would.
// --detail adds, per cycle, resident memory by mapping (node executable, V8 heap and code pages, malloc arenas, ...),
// the daemon's own view (V8 heap spaces, code, external, handles), and the mappings that grew from cycle 1 to the last.
// Linux only (reads /proc/PID). Usage: npm run build && npx tsx bench/probe-daemon.ts [--cycles 30] [--interval-s 3] [--targets 25] [--detail]
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_LIMITS, DEFAULT_EVENTS } from '../collector/config.js';
import { createCollector } from '../collector/app.js';
import { targetList } from '../collector/targets/list.js';
import { DAEMON_TUNING } from '../probe/daemon/daemon.js';
import { systemClock } from '../common/clock.js';
import type { Target } from '../contract/target.js';
import { spkiSha256 } from '../probe/upload/pin.js';
import { startFakeDns } from '../test/fakes/dns-server.js';
import { makeLabPki } from '../test/fakes/pki.js';
import { startTlsServer } from '../test/fakes/tls-server.js';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '30' },
    'interval-s': { type: 'string', default: '3' },
    targets: { type: 'string', default: '25' },
    detail: { type: 'boolean', default: false },
  },
});
const cycles = Number(values.cycles);
const intervalS = Number(values['interval-s']);
const n = Number(values.targets);

const child = fileURLToPath(new URL('./probe-daemon-child.mjs', import.meta.url));
if (!existsSync(fileURLToPath(new URL('../dist/probe/daemon/daemon.js', import.meta.url)))) {
  console.error('bench/probe-daemon: build first (npm run build): it measures the built daemon, as volunteers run it');
  process.exit(2);
}
if (!existsSync('/proc/self/status')) {
  console.error('bench/probe-daemon: needs Linux (/proc) to read the daemon\'s memory and CPU time');
  process.exit(2);
}

const COLLECTOR = 'collector.bench.test';
const COLLECTOR_IP = '203.0.113.30';
const TOKEN = 'bench-enrollment-token-0123456789';
const domainOf = (i: number) => `t${String(i).padStart(3, '0')}.bench.test`;
const ipOf = (i: number) => `45.62.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const canaryDomains = ['egov.kz', 'www.wikipedia.org'];
const domains = [...Array.from({ length: n }, (_, i) => domainOf(i)), ...canaryDomains];
const targets: Target[] = domains.map((domain, i) => {
  const isCanary = i >= n;
  return {
    id: isCanary ? `canary-${i - n}` : `bench-${i}`,
    name: domain,
    category: isCanary ? 'canary' : 'social',
    ...(isCanary ? { canary: i === n ? ('domestic' as const) : ('international' as const) } : {}),
    domains: [domain],
    endpoints: [],
    ports: [443],
    tls_ports: [443],
    http: { path: '/', status: [200] },
  };
});

const dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-bench-daemon-'));
const pki = await makeLabPki([...domains, COLLECTOR]);
const site = await startTlsServer({ cert: pki.leaf.cert, key: pki.leaf.key, chain: pki.leaf.chain, onRequest: { status: 200, body: '<title>ok</title>' } });
const dnsServer = await startFakeDns((name, qtype) => {
  if (qtype !== 'A') return { kind: 'nodata' };
  if (name === COLLECTOR) return { kind: 'answer', addresses: [COLLECTOR_IP] };
  const i = domains.indexOf(name);
  return i >= 0 ? { kind: 'answer', addresses: [ipOf(i)] } : { kind: 'nxdomain' };
});
await writeFile(path.join(dir, 'root.pem'), pki.root);
await writeFile(path.join(dir, 'cert.pem'), [pki.leaf.cert, ...pki.leaf.chain].join('\n'));
await writeFile(path.join(dir, 'key.pem'), pki.leaf.key);
const collector = await createCollector(
  {
    data_dir: path.join(dir, 'collector'),
    listen: { host: '127.0.0.1', port: 0 },
    tls: { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') },
    trust_proxy: false,
    enrollment_tokens: [TOKEN],
    targets_file: null,
    limits: { ...structuredClone(DEFAULT_LIMITS), rate_per_probe: { per_minute: 6000, burst: 1000 } },
    influx: null,
    ip_db: null,
    events: structuredClone(DEFAULT_EVENTS),
  },
  { clock: systemClock, log: false, targets: targetList(targets) },
);
await collector.app.listen({ host: '127.0.0.1', port: 0 });
const collectorPort = (collector.app.server.address() as { port: number }).port;

const map: Record<string, number> = { [`${COLLECTOR_IP}:443`]: collectorPort };
domains.forEach((_, i) => (map[`${ipOf(i)}:443`] = site.port));
const configFile = path.join(dir, 'probe.yaml');
await writeFile(
  configFile,
  [
    `state_dir: ${JSON.stringify(path.join(dir, 'state'))}`,
    'measure:',
    `  resolvers: [system, "udp:127.0.0.1:${dnsServer.port}"]`,
    `  extra_ca_files: [${JSON.stringify(path.join(dir, 'root.pem'))}]`,
    '  qtypes: [A]',
    'collector:',
    `  url: https://${COLLECTOR}`,
    `  pin_spki_sha256: [${JSON.stringify(spkiSha256(pki.leaf.cert))}]`,
    `  enrollment_token: ${TOKEN}`,
    'schedule:',
    '  jitter_fraction: 0',
    '',
  ].join('\n'),
);

/** Resident, private and proportional memory and CPU seconds of a process, from /proc. */
function sample(pid: number): { rssMb: number; privateMb: number; pssMb: number; hwmMb: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const kb = (key: string) => field(status, key);
  // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name): utime and stime in clock ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMb: kb('VmRSS') / 1024, privateMb: field(rollup, 'Anonymous') / 1024, pssMb: field(rollup, 'Pss') / 1024, hwmMb: kb('VmHWM') / 1024, cpuS: ticks / 100 };
}

interface Mapping { start: number; sizeKb: number; perms: string; rssKb: number; name: string }
/** The process's mappings from /proc/PID/smaps: address, size, permissions, resident kB, and what backs it. */
function mappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const start = parseInt(head[1]!, 16);
      out.push({ start, sizeKb: (parseInt(head[2]!, 16) - start) / 1024, perms: head[3]!, rssKb: 0, name: head[4]! });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    const last = out.at(-1);
    if (rss && last) last.rssKb = Number(rss[1]);
  }
  return out;
}

/**
 * Resident MB by what backs it. Anonymous mappings are told apart by shape: V8 allocates its heap in
 * 256 kB-aligned pages and its code in executable ones; glibc's arenas of other threads are 64 MB-aligned;
 * thread stacks are 8 MB; the main thread's malloc arena is the brk heap.
 */
function breakdown(maps: Mapping[]): Record<string, number> {
  const sums: Record<string, number> = {};
  const MB64 = 64 * 1024 * 1024;
  const kind = (m: Mapping): string => {
    if (m.name === '[heap]') return 'malloc main arena (brk)';
    if (m.name === '[stack]') return 'main stack';
    if (m.name.startsWith('[')) return 'kernel';
    if (m.name !== '') return m.name === process.execPath || /\/node$/.test(m.name) ? 'node executable' : 'other files (libraries)';
    if (m.perms.includes('x')) return 'V8 code pages';
    if (m.start % (256 * 1024) === 0 && m.sizeKb % 256 === 0) return 'V8 heap pages';
    if (m.start % MB64 === 0) return 'malloc thread arenas';
    if (m.sizeKb >= 8 * 1024 - 8 && m.sizeKb <= 8 * 1024) return 'thread stacks';
    return 'other anonymous';
  };
  for (const m of maps) if (m.rssKb > 0) sums[kind(m)] = (sums[kind(m)] ?? 0) + m.rssKb / 1024;
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}

/** The unit's Environment= settings (NODE_OPTIONS, MALLOC_ARENA_MAX), so that the bench runs the daemon as systemd would. */
function unitEnvironment(): Record<string, string> {
  const unit = readFileSync(fileURLToPath(new URL('../deploy/ashyq-probe.service', import.meta.url)), 'utf8');
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=(?:"([^"]*)"|(\S+))$/gm)) {
    const setting = m[1] ?? m[2] ?? '';
    const eq = setting.indexOf('=');
    if (eq > 0) env[setting.slice(0, eq)] = setting.slice(eq + 1);
  }
  return env;
}

/** RSS of a node process that does nothing, for comparison. */
async function bareNodeRssMb(env: Record<string, string>): Promise<number> {
  const idle = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { stdio: 'ignore', env });
  await new Promise((r) => setTimeout(r, 1000));
  const rss = sample(idle.pid!).rssMb;
  idle.kill();
  return rss;
}

const perCycle = targets.length;
const unitEnv = unitEnvironment();
// As systemd starts the unit: a clean environment with the unit's Environment= settings, nothing inherited.
const childEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...unitEnv };
const bare = await bareNodeRssMb(childEnv);
const proc = spawn(process.execPath, [child], { stdio: ['pipe', 'inherit', 'pipe'], env: childEnv });
proc.stdin.end(JSON.stringify({ configFile, intervalMinutes: intervalS / 60, map, dnsPort: dnsServer.port }));
let taken = 0;
let log = '';
const done: Array<() => void> = [];
proc.stderr.on('data', (chunk: Buffer) => {
  const text = chunk.toString('utf8');
  log += text;
  taken += text.split('\n').filter((l) => / taken /.test(l)).length;
  for (const d of done.splice(0)) d();
});
const exited = new Promise<number | null>((resolve) => proc.once('close', resolve));
const waitTaken = (count: number) =>
  new Promise<void>((resolve, reject) => {
    const check = () => {
      if (taken >= count) resolve();
      else if (proc.exitCode !== null) reject(new Error(`the daemon exited:\n${log.slice(-2000)}`));
      else done.push(check);
    };
    check();
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The child's own view of its memory (V8 heap spaces, external, handles), asked with SIGUSR2. */
async function childReport(): Promise<string> {
  const before = log.length;
  proc.kill('SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await sleep(20);
    const m = /bench-mem: (.*)\n/.exec(log.slice(before));
    if (m) return m[1]!;
  }
  return '(no answer)';
}
const details: string[] = [];
let firstMaps: Mapping[] = [];

const rows: Array<{ cycle: number; cpuS: number; idleRssMb: number; privateMb: number; pssMb: number }> = [];
let last = sample(proc.pid!);
const t0 = Date.now();
for (let cycle = 1; cycle <= cycles; cycle++) {
  await waitTaken(cycle * perCycle);
  // Idle: halfway to the next cycle, after the upload of this one.
  await sleep((intervalS * 1000) / 2);
  const now = sample(proc.pid!);
  if (values.detail) {
    const maps = mappings(proc.pid!);
    if (cycle === 1) firstMaps = maps;
    details.push(`  ${String(cycle).padStart(5)} ${JSON.stringify(breakdown(maps))}\n        ${await childReport()}`);
    if (cycle === cycles) {
      const was = new Map(firstMaps.map((m) => [m.start, m]));
      for (const m of maps) {
        const grew = m.rssKb - (was.get(m.start)?.rssKb ?? 0);
        if (Math.abs(grew) >= 256) details.push(`        mapping ${m.start.toString(16)} ${(m.sizeKb / 1024).toFixed(1)} MB ${m.perms} ${m.name || 'anonymous'}: RSS ${(m.rssKb / 1024).toFixed(1)} MB (${grew > 0 ? '+' : ''}${(grew / 1024).toFixed(1)} since cycle 1)`);
      }
    }
  }
  rows.push({ cycle, cpuS: now.cpuS - last.cpuS, idleRssMb: now.rssMb, privateMb: now.privateMb, pssMb: now.pssMb });
  last = now;
}
const wallS = (Date.now() - t0) / 1000;
const peak = sample(proc.pid!).hwmMb;
const threads = readdirSync(`/proc/${proc.pid!}/task`).length;
proc.kill('SIGTERM');
const code = await exited;
const archived = (await readdir(path.join(dir, 'collector', 'archive')))
  .filter((f) => f.endsWith('.jsonl'))
  .map((f) => readFileSync(path.join(dir, 'collector', 'archive', f), 'utf8').split('\n').filter((l) => l !== '').length)
  .reduce((a, b) => a + b, 0);

const cpu = rows.map((r) => r.cpuS);
const rss = rows.map((r) => r.idleRssMb);
const steady = rows.slice(Math.min(3, rows.length - 1));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
console.log(`probe-daemon: ${cycles} cycles of ${perCycle} targets (${n} + 2 canaries) every ${intervalS} s, uploading to a real collector over pinned TLS`);
console.log(`  unit environment  ${Object.entries(unitEnv).map(([k, v]) => `${k}=${v}`).join(' ')} (deploy/ashyq-probe.service's Environment=, in an otherwise clean environment)`);
console.log(`  daemon saw        ${/bench: environment (.*)/.exec(log)?.[1] ?? '(not reported)'} (as the process started)`);
console.log(`  ${/bench: (V8 flags .*)/.exec(log)?.[1] ?? 'V8 flags: none reported'} (set at start, as bin/ashyq-probe.cjs does)`);
console.log(`  idle sample       ${(intervalS / 2).toFixed(1)} s after each run's last measurement is taken (the daemon's full GC after a run comes at ${DAEMON_TUNING.releaseMemoryDelayMs / 1000} s)`);
console.log('  cycle   CPU s   idle RSS MB   private MB   PSS MB');
for (const r of rows) {
  console.log(`  ${String(r.cycle).padStart(5)}   ${r.cpuS.toFixed(2).padStart(5)}   ${r.idleRssMb.toFixed(1).padStart(11)}   ${r.privateMb.toFixed(1).padStart(10)}   ${r.pssMb.toFixed(1).padStart(6)}`);
}
if (values.detail) console.log(['  detail: resident MB by mapping, then the daemon\'s own view (MB)', ...details].join('\n'));
console.log(`  CPU per cycle     mean ${mean(cpu).toFixed(3)} s, max ${Math.max(...cpu).toFixed(2)} s (steady state from cycle 4: ${mean(steady.map((r) => r.cpuS)).toFixed(3)} s)`);
console.log(`  idle RSS          first ${rss[0]?.toFixed(1)} MB, last ${rss.at(-1)?.toFixed(1)} MB, max ${Math.max(...rss).toFixed(1)} MB (goal ≤ 70 MB)`);
console.log(`  idle private      max ${Math.max(...rows.map((r) => r.privateMb)).toFixed(1)} MB; PSS max ${Math.max(...rows.map((r) => r.pssMb)).toFixed(1)} MB`);
console.log(`  bare node         ${bare.toFixed(1)} MB RSS doing nothing (most of it the node executable, shared and clean)`);
console.log(`  peak RSS          ${peak.toFixed(1)} MB; ${threads} threads at the end (libuv's pool started at start-up with getaddrinfo, as the system resolver does)`);
console.log(`  delivered         ${archived} of ${taken} measurements taken; exit ${code} after SIGTERM; wall ${wallS.toFixed(0)} s`);
await collector.close();
await Promise.all([site.close(), dnsServer.close()]);
await rm(dir, { recursive: true, force: true });
process.exit(code === 0 ? 0 : 1);
