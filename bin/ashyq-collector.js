#!/usr/bin/env node
// Entry point of the collector command line; the code lives in dist/ (built by `npm ci`).
import { spawnSync } from 'node:child_process';

// `import` and `reindex` hand megabyte-sized buffers from parsing threads to the main thread. glibc's
// malloc raises its threshold for mapping a large block on its own every time one is freed, after
// which such blocks come from the threads' arenas and stay there as fragments: a month's import then
// holds a few hundred MB more than it uses. A fixed threshold (read by glibc only when a process
// starts) gives each large block back when it is freed, so these batch commands run themselves again
// with it set, once.
const BATCH = new Set(['import', 'reindex']);
const MMAP_THRESHOLD = 'MALLOC_MMAP_THRESHOLD_';
const command = process.argv.slice(2).find((a) => BATCH.has(a));
if (process.platform === 'linux' && command !== undefined && process.env[MMAP_THRESHOLD] === undefined) {
  const child = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [MMAP_THRESHOLD]: String(1024 * 1024) },
  });
  if (child.error) {
    process.stderr.write(`ashyq-collector: could not start the ${command} process: ${child.error.message}\n`);
    process.exitCode = 1;
  } else process.exitCode = child.status ?? 1;
} else {
  const { main } = await import('../dist/collector/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
}
