// Event detector throughput: a simulated month of a large fleet, (1) streamed through the detector
// in memory, and (2) written as archive segments and imported by `ashyq-collector import` (the
// built command line in a child process: Importer, Archive, Store, EventFollower).
//
// npm run build && npx tsx bench/detector.ts [--probes 500] [--days 30] [--phase all|memory|import]
//                           [--batch 5000] [--heap-mb 400 | --heap-mb 0 for no cap]   (in memory)
//                           [--segments DIR] [--profile-ms 10 | --profile-ms 0 for none] (import)
//
// The import phase simulates the month into gzipped daily segments in a temporary directory
// (streamed: the records are never all in memory), imports them in a fresh collector data
// directory with the default configuration, and prints records/s, the importing process's peak RSS
// and CPU per record, and where its main thread spent that time (from a sampling CPU profile, by
// source file). Both directories
// are removed afterwards; with --segments DIR the segments are kept there (and reused when DIR
// already holds them).
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createGzip } from 'node:zlib';
import { EventDetector } from '../collector/events/detector.js';
import type { Observation } from '../collector/events/observation.js';
import { simulateObservations, simulateRecords, simTruth, type SimOptions } from '../collector/events/simulate.js';
import { utcDay } from '../collector/storage/archive.js';

const HOUR = 3_600_000;

function flag(name: string, fallback: number, allowZero = false): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) throw new Error(`--${name} needs a positive number`);
  return value;
}

function text(name: string): string | null {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return null;
  const value = process.argv[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`--${name} needs a value`);
  return value;
}

function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(46)}${value}\n`);
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');

// ── (1) the detector alone, in memory ─────────────────────────────────────────────────────────────

function memoryPhase(probes: number, days: number, heapMb: number): void {
  const batchSize = flag('batch', 5000);
  const sim = { probes, days, interval_ms: HOUR, jitter_ms: 5 * 60_000 };
  const truth = simTruth(sim);

  let simulated = truth.options.start;
  const clock = { now: () => simulated, monotonic: () => performance.now() };
  const horizonHours = flag('horizon-hours', 0, true);
  const detector = new EventDetector({ interval_ms: HOUR, ...(horizonHours > 0 ? { horizon_ms: horizonHours * HOUR } : {}) }, { clock });

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let detectMs = 0;
  let count = 0;
  let revisions = 0;
  let nextAdvance = truth.options.start + HOUR;
  let batch: Observation[] = [];

  const feed = (): void => {
    const s = performance.now();
    revisions += detector.observe(batch).length;
    detectMs += performance.now() - s;
    batch = [];
  };

  for (const obs of simulateObservations(sim)) {
    batch.push(obs);
    count++;
    if (batch.length >= batchSize) feed();
    if (obs.time >= nextAdvance) {
      feed();
      simulated = nextAdvance;
      const s = performance.now();
      revisions += detector.advance(nextAdvance).length;
      detectMs += performance.now() - s;
      nextAdvance += HOUR;
    }
  }
  feed();
  revisions += detector.advance(truth.options.start + days * 24 * HOUR).length;
  const totalMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const rssMb = process.resourceUsage().maxRSS / 1024;

  const events = detector.events();
  const found = truth.events.filter((t) => events.some((e) => e.method === t.method && e.start <= t.end && (e.end ?? Infinity) >= t.start));
  console.log('(1) the detector alone, in memory');
  line('old-space cap', heapMb > 0 ? `${heapMb} MB` : 'none');
  line('fleet', `${probes} probes, ${truth.options.targets.length} targets, hourly, ${days} days`);
  line('observations', count.toLocaleString('en-US'));
  line('wall time (simulate + detect)', `${(totalMs / 1000).toFixed(1)} s`);
  line('observations/s (end to end)', n(count / (totalMs / 1000)));
  line('observations/s (detector only)', n(count / (detectMs / 1000)));
  line('CPU per observation (end to end)', `${((cpu.user + cpu.system) / count).toFixed(2)} µs`);
  line('peak RSS', `${rssMb.toFixed(0)} MB`);
  line('events / incidents / revisions', `${events.length} / ${detector.incidents().length} / ${revisions}`);
  line('scripted events found', `${found.length} of ${truth.events.length}`);
}

// ── (2) the import path ────────────────────────────────────────────────────────────────────────────

/** Write the simulation as gzipped daily segments (by received_at, as the archive keeps them), streamed. */
async function writeSegments(dir: string, sim: Partial<SimOptions>): Promise<{ records: number; bytes: number; files: string[] }> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  let day: string | null = null;
  let out: { gzip: ReturnType<typeof createGzip>; done: Promise<void> } | null = null;
  let chunk: string[] = [];
  let chunkBytes = 0;
  let records = 0;
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (out === null || chunk.length === 0) return;
    const ok = out.gzip.write(chunk.join(''));
    chunk = [];
    chunkBytes = 0;
    if (!ok) await new Promise((resolve) => out!.gzip.once('drain', resolve));
  };
  const close = async (): Promise<void> => {
    if (out === null) return;
    await flush();
    out.gzip.end();
    await out.done;
    out = null;
  };
  for (const record of simulateRecords(sim)) {
    const d = utcDay(Date.parse(record.received_at));
    if (d !== day) {
      await close();
      day = d;
      const file = path.join(dir, `${d}.jsonl.gz`);
      files.push(file);
      const gzip = createGzip({ level: 1 });
      const sink = createWriteStream(file);
      gzip.pipe(sink);
      out = { gzip, done: new Promise((resolve, reject) => sink.once('finish', resolve).once('error', reject)) };
    }
    const json = `${JSON.stringify(record)}\n`;
    chunk.push(json);
    chunkBytes += json.length;
    bytes += json.length;
    records++;
    if (chunkBytes >= 1 << 20) await flush();
  }
  await close();
  return { records, bytes, files };
}

interface Usage {
  maxRssMb: number;
  /** CPU seconds of the whole process, and of its main thread alone. */
  cpu: number;
  mainCpu: number | null;
}

interface ImportSummary {
  read: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  byCode: Record<string, number>;
  seconds: number;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** What a source file (or a V8 pseudo-frame) counts as, for the breakdown. */
const CATEGORIES: Array<[RegExp, string]> = [
  [/collector\/ingest\/import\.[jt]s$/, 'read lines + JSON.parse (import)'],
  [/collector\/ingest\/validate\.[jt]s$/, 'validate'],
  [/collector\/storage\/archive\.[jt]s$/, 'archive append (encode, write)'],
  [/collector\/(storage\/store|pipeline\/store-index)\.[jt]s$/, 'store index (SQLite)'],
  [/collector\/(events\/|storage\/event-store\.[jt]s$)/, 'detector (+ event store)'],
];

/**
 * Main-thread time by category: each sample goes to the innermost frame on its stack that belongs
 * to a category (so JSON.parse called from import.ts counts for import.ts); samples with none are
 * node's own streams (gunzip, readline, file I/O callbacks), GC, or idle.
 */
function breakdown(profile: CpuProfile): Map<string, number> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const categoryOf = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = categoryOf.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id)!;
    const { url, functionName } = node.callFrame;
    let category: string | null = null;
    for (const [pattern, name] of CATEGORIES) if (pattern.test(url)) category = name;
    if (category === null) {
      const up = parent.get(id);
      if (functionName === '(garbage collector)') category = 'garbage collection';
      else if (functionName === '(idle)') category = 'idle (waiting for I/O)';
      else if (up === undefined || functionName === '(program)' || functionName === '(root)') category = 'other (node streams: gunzip, readline, I/O)';
      else category = resolve(up);
      if (category === 'idle (waiting for I/O)' && functionName !== '(idle)') category = 'other (node streams: gunzip, readline, I/O)';
    }
    categoryOf.set(id, category);
    return category;
  };
  const totals = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const category = resolve(profile.samples[i]!);
    totals.set(category, (totals.get(category) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  return totals;
}

async function importPhase(probes: number, days: number): Promise<void> {
  const sim: Partial<SimOptions> = { probes, days, interval_ms: HOUR, jitter_ms: 5 * 60_000 };
  const given = text('segments');
  const profileMs = flag('profile-ms', 10, true);
  const work = await mkdtemp(path.join(os.tmpdir(), 'ashyq-bench-import-'));
  const segmentsDir = given ?? path.join(work, 'segments');
  try {
    console.log('(2) `ashyq-collector import` of the month as segments: Importer → Archive → Store index → EventFollower');
    const stamp = path.join(segmentsDir, 'bench.json');
    let files: string[];
    let records: number;
    const existing = await readFile(stamp, 'utf8').then((t) => JSON.parse(t) as { sim: Partial<SimOptions>; records: number; bytes: number; files: string[] }, () => null);
    if (existing !== null && JSON.stringify(existing.sim) === JSON.stringify(sim)) {
      ({ files, records } = existing);
      line('segments', `${files.length} reused from ${segmentsDir}: ${n(records)} records, ${(existing.bytes / 1e9).toFixed(2)} GB of JSON`);
    } else {
      const w0 = performance.now();
      const written = await writeSegments(segmentsDir, sim);
      ({ files, records } = written);
      if (given !== null) await writeFile(stamp, JSON.stringify({ sim, ...written }));
      line('segments written', `${files.length} gzipped: ${n(records)} records, ${(written.bytes / 1e9).toFixed(2)} GB of JSON, in ${((performance.now() - w0) / 1000).toFixed(0)} s`);
    }

    // The command line as installed (dist/, built by `npm run build`), on a fresh data directory.
    const cli = path.join(ROOT, 'bin', 'ashyq-collector.js');
    await stat(path.join(ROOT, 'dist', 'collector', 'cli', 'main.js')).catch(() => {
      throw new Error('the import phase runs the built command line: npm run build first');
    });
    const dataDir = path.join(work, 'collector');
    const config = path.join(work, 'collector.yaml');
    await writeFile(config, `data_dir: ${JSON.stringify(dataDir)}\n`);
    const profileDir = path.join(work, 'profile');
    const usageFile = path.join(work, 'usage.json');
    const nodeArgs = ['--import', pathToFileURL(path.join(ROOT, 'bench', 'usage-report.mjs')).href];
    if (profileMs > 0) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-interval=${Math.round(profileMs * 1000)}`);
    const child = spawn(process.execPath, [...nodeArgs, cli, 'import', '--config', config, '--json', ...files], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The threshold bin/ashyq-collector.js would start `import` again with: set here, the command runs in this one process, which is measured.
      env: { ...process.env, MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? String(1024 * 1024), ASHYQ_USAGE_FILE: usageFile },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000))); // progress lines; the last kept for a failure
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`ashyq-collector import exited with ${code}: ${stdout}\n${stderr}`);
    const s = JSON.parse(stdout.trim().split('\n').at(-1)!) as ImportSummary;
    const usage = JSON.parse(await readFile(usageFile, 'utf8')) as Usage;
    const { EventStore } = await import('../collector/storage/event-store.js');
    const store = EventStore.open(path.join(dataDir, 'events.sqlite'));
    const events = store.events().length;
    const revisions = store.lastSeq();
    store.close();
    let archiveBytes = 0;
    for (const name of await readdir(path.join(dataDir, 'archive'))) archiveBytes += (await stat(path.join(dataDir, 'archive', name))).size;

    const truth = simTruth(sim);
    line('fleet', `${probes} probes, ${truth.options.targets.length} targets, hourly, ${days} days`);
    line('records read / new / rejected', `${n(s.read)} / ${n(s.accepted)} / ${n(s.rejected)}${s.rejected > 0 ? ` ${JSON.stringify(s.byCode)}` : ''}`);
    line('import wall time (as the command reports it)', `${s.seconds.toFixed(1)} s`);
    line('records/s (import, end to end)', `${n(s.read / s.seconds)} (goal ≥ 30,000)`);
    line('peak RSS of the importing process', `${usage.maxRssMb.toFixed(0)} MB (goal ≤ 500)`);
    line('CPU per record (all threads)', `${((usage.cpu * 1e6) / s.read).toFixed(1)} µs (${usage.cpu.toFixed(1)} s on ${os.cpus().length} cores, start-up included)`);
    if (usage.mainCpu !== null) {
      line('  of which the main thread', `${((usage.mainCpu * 1e6) / s.read).toFixed(1)} µs`);
      line('  other threads (zlib, fs, fsync)', `${(((usage.cpu - usage.mainCpu) * 1e6) / s.read).toFixed(1)} µs`);
    }
    line('events / revisions stored', `${events} / ${revisions}`);
    line('archive written', `${(archiveBytes / 1e9).toFixed(2)} GB (gzipped days)`);
    if (profileMs > 0) {
      // The largest profile is the main thread's (a loader thread may write one too).
      const profiles = await Promise.all((await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile')).map(async (f) => ({ f, size: (await stat(path.join(profileDir, f))).size })));
      const name = profiles.sort((a, b) => b.size - a.size)[0]?.f;
      if (name !== undefined) {
        const totals = breakdown(JSON.parse(await readFile(path.join(profileDir, name), 'utf8')) as CpuProfile);
        const all = [...totals.values()].reduce((a, b) => a + b, 0);
        console.log(`main thread by activity (sampling profile every ${profileMs} ms; µs per record, share of the main thread's wall time):`);
        for (const [category, ms] of [...totals].sort((a, b) => b[1] - a[1])) {
          line(`  ${category}`, `${((ms * 1000) / s.read).toFixed(2).padStart(6)} µs  ${((ms / all) * 100).toFixed(1).padStart(5)} %`);
        }
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ── main ───────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const phase = text('phase') ?? 'all';
  if (!['all', 'memory', 'import'].includes(phase)) throw new Error('--phase is all, memory or import');
  const probes = flag('probes', 500);
  const days = flag('days', 30);
  // The in-memory detector runs as the collector would be deployed: with a capped old space (V8
  // otherwise lets garbage from the simulator grow the heap far past the live set). The cap is set
  // by re-running this file in a child with --max-old-space-size.
  const heapMb = process.argv.includes('--heap-mb') ? Number(process.argv[process.argv.indexOf('--heap-mb') + 1]) : 400;
  const capped = process.execArgv.some((a) => a.startsWith('--max-old-space-size'));
  if (capped) {
    memoryPhase(probes, days, heapMb); // the in-memory child
    return;
  }
  if (phase !== 'import') {
    if (heapMb > 0) {
      const child = spawnSync(process.execPath, [...process.execArgv, `--max-old-space-size=${heapMb}`, process.argv[1]!, ...process.argv.slice(2)], { stdio: 'inherit' });
      if (child.status !== 0) process.exit(child.status ?? 1);
    } else memoryPhase(probes, days, heapMb);
  }
  if (phase !== 'memory') {
    if (phase === 'all') console.log('');
    await importPhase(probes, days);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
