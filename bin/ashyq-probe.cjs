#!/usr/bin/env node
// Entry point of the probe command line; the code lives in dist/ (built by `npm ci`).
'use strict';
// getaddrinfo runs on libuv's thread pool (4 threads by default): on a censored or dead network
// every lookup can block for seconds, so a larger pool keeps one run from queueing behind them.
// libuv sizes the pool from the environment the first time it is used. This entry is CommonJS
// because node reads a CommonJS entry synchronously, so nothing has used the pool yet when this
// line runs; an ES module entry is read through the pool, which would then stay at 4 threads.
process.env.UV_THREADPOOL_SIZE ??= '32';

(async () => {
  // V8 settings for a small footprint (see probe/engine/v8-flags.ts), set before anything else loads.
  const { applyProbeV8Flags } = await import('../dist/probe/engine/v8-flags.js');
  applyProbeV8Flags();
  const { main } = await import('../dist/probe/cli/main.js');
  process.exitCode = await main(process.argv.slice(2));
})().catch((err) => {
  process.stderr.write(`ashyq-probe: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
