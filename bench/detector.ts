// Event detector throughput: a simulated month of a large fleet, streamed through the detector.
// npx tsx bench/detector.ts [--probes 500] [--days 30] [--batch 5000] [--heap-mb 400 | --heap-mb 0 for no cap]
import { spawnSync } from 'node:child_process';
import { EventDetector } from '../collector/events/detector.js';
import type { Observation } from '../collector/events/observation.js';
import { simulateObservations, simTruth } from '../collector/events/simulate.js';

const HOUR = 3_600_000;

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} needs a positive number`);
  return value;
}

// The detector runs as the collector would be deployed: with a capped old space (V8 otherwise lets
// garbage from the simulator grow the heap far past the live set). The cap is set by re-running
// this file in a child with --max-old-space-size.
const heapMb = process.argv.includes('--heap-mb') ? Number(process.argv[process.argv.indexOf('--heap-mb') + 1]) : 400;
if (heapMb > 0 && !process.execArgv.some((a) => a.startsWith('--max-old-space-size'))) {
  const child = spawnSync(process.execPath, [...process.execArgv, `--max-old-space-size=${heapMb}`, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(child.status ?? 1);
}

const probes = flag('probes', 500);
const days = flag('days', 30);
const batchSize = flag('batch', 5000);
const sim = { probes, days, interval_ms: HOUR, jitter_ms: 5 * 60_000 };
const truth = simTruth(sim);

let simulated = truth.options.start;
const clock = { now: () => simulated, monotonic: () => performance.now() };
const horizonHours = flag('horizon-hours', 0);
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
function line(label: string, value: string): void {
  process.stdout.write(`${label.padEnd(34)}${value}\n`);
}
line('old-space cap', heapMb > 0 ? `${heapMb} MB` : 'none');
line('fleet', `${probes} probes, ${truth.options.targets.length} targets, hourly, ${days} days`);
line('observations', count.toLocaleString('en-US'));
line('wall time (simulate + detect)', `${(totalMs / 1000).toFixed(1)} s`);
line('observations/s (end to end)', Math.round(count / (totalMs / 1000)).toLocaleString('en-US'));
line('observations/s (detector only)', Math.round(count / (detectMs / 1000)).toLocaleString('en-US'));
line('CPU per observation (end to end)', `${((cpu.user + cpu.system) / count).toFixed(2)} µs`);
line('peak RSS', `${rssMb.toFixed(0)} MB`);
line('events / incidents / revisions', `${events.length} / ${detector.incidents().length} / ${revisions}`);
line('scripted events found', `${found.length} of ${truth.events.length}`);
