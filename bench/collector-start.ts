// Benchmark: start of the collector on its embedded defaults (the bundled IP-to-ASN database): time to listening, resident memory then and idle after.
// Usage: npm run build && npx tsx bench/collector-start.ts [--idle-s 15]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { 'idle-s': { type: 'string', default: '15' } } });
const idleS = Number(values['idle-s']);
const BIN = fileURLToPath(new URL('../bin/ashyq-collector.js', import.meta.url));

/** VmRSS and VmHWM of a process, MB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-start-'));
try {
  const config = path.join(dir, 'collector.yaml');
  await writeFile(config, `data_dir: ${JSON.stringify(path.join(dir, 'data'))}\nlisten: { host: 127.0.0.1, port: 0 }\n`);
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the collector exited (${code}): ${out}`)));
  });
  const listening = (performance.now() - started) / 1000;
  const atStart = memory(child.pid!);
  await new Promise((r) => setTimeout(r, idleS * 1000));
  const idle = memory(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const ranges = /IP database loaded: (\d+) ranges/.exec(out + err)?.[1] ?? '?';
  console.log(`collector start on the embedded defaults (${ranges} IP ranges)`);
  console.log(`  listening after      ${listening.toFixed(2)} s`);
  console.log(`  RSS when listening   ${atStart.rss.toFixed(1)} MB`);
  console.log(`  RSS idle after ${idleS} s  ${idle.rss.toFixed(1)} MB  (goal near 100 MB)`);
  console.log(`  peak RSS             ${idle.peak.toFixed(1)} MB`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
