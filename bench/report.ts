// Benchmark: `ashyq-collector report` for a month of a 500-probe fleet: wall time and peak RSS of the report command, on a data directory made by importing the month.
//
//   npm run build && npx tsx bench/report.ts [--probes 500] [--days 30] [--segments DIR] [--data DIR] [--lang en]
//
// The month is simulated by the event detector's benchmark (`bench/detector.ts --phase import --segments DIR`
// writes and keeps the segments; this bench writes them the same way when DIR has none), imported with
// `ashyq-collector import` into a fresh data directory (or --data DIR, kept and reused when it already
// holds an import), then the report for May 2024 is written by the built command line, as an operator runs it.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    probes: { type: 'string', default: '500' },
    days: { type: 'string', default: '30' },
    segments: { type: 'string' },
    data: { type: 'string' },
    lang: { type: 'string', default: 'en' },
  },
});
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'ashyq-collector.js');
const USAGE = pathToFileURL(path.join(ROOT, 'bench', 'usage-report.mjs')).href;

interface Usage {
  maxRssMb: number;
  cpu: number;
}

/** Run the built command line with the usage preload; resolves with its output and resource use. */
async function cli(args: string[], work: string): Promise<{ stdout: string; stderr: string; seconds: number; usage: Usage }> {
  const usageFile = path.join(work, `usage-${Date.now()}.json`);
  const started = performance.now();
  // The threshold bin/ashyq-collector.js would start `import` again with: set here, the command runs in the one measured process.
  const child = spawn(process.execPath, ['--import', USAGE, BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: process.env['MALLOC_MMAP_THRESHOLD_'] ?? String(1024 * 1024), ASHYQ_USAGE_FILE: usageFile },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`ashyq-collector ${args[0]} exited with ${code}: ${stdout}\n${stderr}`);
  return { stdout, stderr, seconds, usage: JSON.parse(await readFile(usageFile, 'utf8')) as Usage };
}

const work = await mkdtemp(path.join(os.tmpdir(), 'ashyq-bench-report-'));
try {
  await stat(path.join(ROOT, 'dist', 'collector', 'cli', 'main.js')).catch(() => {
    throw new Error('bench/report runs the built command line: npm run build first');
  });
  const dataDir = values.data ?? path.join(work, 'data');
  const config = path.join(work, 'collector.yaml');
  await writeFile(config, `data_dir: ${JSON.stringify(dataDir)}\n`);
  const imported = await stat(path.join(dataDir, 'store.sqlite')).then(() => true, () => false);
  if (!imported) {
    const segments = values.segments ?? path.join(work, 'segments');
    let files = (await readdir(segments).catch(() => [] as string[])).filter((f) => /\.jsonl(\.gz)?$/.test(f));
    if (files.length === 0) {
      console.log(`writing the month (${values.probes} probes, ${values.days} days) with bench/detector.ts ...`);
      const sim = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'detector.ts'), '--phase', 'import', '--probes', values.probes!, '--days', values.days!, '--segments', segments, '--profile-ms', '0'], { stdio: 'inherit', cwd: ROOT });
      if ((await new Promise<number | null>((r) => sim.once('exit', r))) !== 0) throw new Error('bench/detector.ts failed');
      files = (await readdir(segments)).filter((f) => /\.jsonl(\.gz)?$/.test(f));
    }
    process.stdout.write(`importing ${files.length} segments from ${segments} ... `);
    const imp = await cli(['import', '--config', config, '--json', ...files.sort().map((f) => path.join(segments, f))], work);
    const summary = JSON.parse(imp.stdout.trim().split('\n').at(-1)!) as { accepted: number };
    console.log(`${summary.accepted.toLocaleString('en')} records in ${imp.seconds.toFixed(0)} s`);
  } else console.log(`reusing the import in ${dataDir}`);

  const out = path.join(work, 'report');
  const report = await cli(['report', '--config', config, '--month', '2024-05', '--lang', values.lang!, '--out', out], work);
  const files = await readdir(out);
  console.log(`report 2024-05 (${values.lang}) for a fleet of ${values.probes} probes`);
  console.log(`  ${report.stderr.trim().split('\n').filter((l) => l.includes('report 2024-05')).at(-1) ?? report.stdout.trim()}`);
  console.log(`  wall time          ${report.seconds.toFixed(1)} s (goal ≤ 60 s)`);
  console.log(`  peak RSS           ${report.usage.maxRssMb.toFixed(0)} MB`);
  console.log(`  CPU                ${report.usage.cpu.toFixed(1)} s`);
  console.log(`  files              ${files.length} (${files.includes('report.pdf') ? 'with' : 'without'} the PDF)`);
} finally {
  await rm(work, { recursive: true, force: true });
}
