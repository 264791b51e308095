// ashyq-collector from the sources, for the lab: what bin/ashyq-collector.js does with dist/, without needing a fresh build.
const { main } = await import('../../collector/cli/main.js');

process.exitCode = await main(process.argv.slice(2));
