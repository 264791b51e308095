// Tests of the collector's entry point: batch commands run themselves again with glibc's fixed mmap threshold, passing output and exit codes through.
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { simulateRecords } from '../collector/events/simulate.js';
import { tempDir } from './fixtures/collector/helpers.js';

const BIN = fileURLToPath(new URL('../bin/ashyq-collector.js', import.meta.url));
const run = promisify(execFile);

const cleanup: string[] = [];
afterEach(async () => {
  for (const d of cleanup.splice(0)) await rm(d, { recursive: true, force: true });
});

/** A data dir, its config, and a preload that appends each process's MALLOC_MMAP_THRESHOLD_ to a file. */
async function setup(): Promise<{ dir: string; config: string; preload: string; seen: string }> {
  const dir = await tempDir('ashyq-bin-');
  cleanup.push(dir);
  const config = path.join(dir, 'collector.yaml');
  await writeFile(config, `data_dir: ${JSON.stringify(path.join(dir, 'data'))}\n`);
  const seen = path.join(dir, 'seen.txt');
  const preload = path.join(dir, 'preload.mjs');
  await writeFile(preload, `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(seen)}, (process.env.MALLOC_MMAP_THRESHOLD_ ?? 'unset') + '\\n');\n`);
  return { dir, config, preload, seen };
}

function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.MALLOC_MMAP_THRESHOLD_;
  return e;
}

describe.runIf(process.platform === 'linux')('bin/ashyq-collector.js', () => {
  it('runs `import` again with the fixed threshold, and its output and exit code come through', async () => {
    const { dir, config, preload, seen } = await setup();
    const records = [...simulateRecords({ days: 1, probes: 5, seed: 11 })].slice(0, 200);
    const file = path.join(dir, 'in.jsonl.gz');
    await writeFile(file, gzipSync(records.map((r) => `${JSON.stringify(r)}\n`).join('')));
    const { stdout } = await run(process.execPath, ['--import', pathToFileURL(preload).href, BIN, 'import', '--config', config, '--json', file], { env: env() });
    expect(JSON.parse(stdout)).toMatchObject({ read: 200, accepted: 200, rejected: 0 });
    // The first process saw no threshold; the one it started (with the same node options, which its
    // parsing threads load too) saw 1 MiB.
    const [first, ...rest] = (await readFile(seen, 'utf8')).trim().split('\n');
    expect(first).toBe('unset');
    expect(rest.length).toBeGreaterThan(0);
    expect(new Set(rest)).toEqual(new Set([String(1024 * 1024)]));
  });

  it('passes a failing command`s exit code and message through', async () => {
    const { dir, config } = await setup();
    const missing = path.join(dir, 'no-such-file.jsonl');
    const err = await run(process.execPath, [BIN, 'import', '--config', config, missing], { env: env() }).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toBe(`ashyq-collector: import ${missing}: no such file\n`);
  });

  it('runs other commands in the first process', async () => {
    const { preload, seen } = await setup();
    const { stdout } = await run(process.execPath, ['--import', pathToFileURL(preload).href, BIN, '--help'], { env: env() });
    expect(stdout).toContain('import');
    expect((await readFile(seen, 'utf8')).trim().split('\n')).toEqual(['unset']);
  });
});
