// ashyq-probe from the sources, for the lab: what bin/ashyq-probe.cjs does with dist/, without needing a fresh build.
process.env.UV_THREADPOOL_SIZE ??= '32';
const { main } = await import('../../probe/cli/main.js');

process.exitCode = await main(process.argv.slice(2));
