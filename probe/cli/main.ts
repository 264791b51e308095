// The `ashyq-probe` command dispatcher: parses the arguments and hands them to run --once, daemon or status (bin/ashyq-probe.cjs calls main).
import { parseArgs } from 'node:util';
import { AshyqError } from '../../common/errors.js';
import { runOnce } from './run-once.js';
import { version } from '../version.js';

const USAGE = `usage: ashyq-probe <command> [options]

commands:
  run --once        measure every target once and print one line per target
      --json        print one measurement (JSON) per line instead
      --targets F   use the target list in F (default: the config's, else the packaged targets.yaml)
      --config F    use the probe config in F (default: embedded defaults)
  daemon            measure every target on the config's schedule, keep every measurement on disk
                    until the collector acknowledged it, upload in the background; runs until
                    SIGTERM or SIGINT (then it stops within about 20 s and exits 0)
      --config F    the probe config (state_dir, collector, schedule, spool, upload sections)
  join INVITE       write the collector an operator's invite names (its URL, key pin and a single-use
                    enrollment secret) into the probe config, keeping the rest of the file
      --config F    the probe config to write (created when absent, mode 0640)
  status            show the daemon's schedule, last run, spool, last upload and last error
      --config F    the probe config the daemon runs with (to find its state_dir)
      --json        print the status file as JSON
  --version         print the version
  --help            print this text

Progress and the daemon's log go to stderr; results to stdout. Exit status: 0 done, 1 a run failed,
2 bad usage or config; status: 0 running, 3 not running, 4 never ran with that state directory.
`;

export async function main(argv: string[], streams = { out: process.stdout, err: process.stderr }): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        once: { type: 'boolean' },
        json: { type: 'boolean' },
        targets: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    streams.err.write(`ashyq-probe: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    streams.out.write(USAGE);
    return 0;
  }
  if (values.version) {
    streams.out.write(`${version}\n`);
    return 0;
  }
  const command = positionals[0];
  if (command === 'join') {
    if (positionals.length !== 2 || values.config === undefined || values.once || values.json || values.targets !== undefined) {
      streams.err.write('ashyq-probe: usage: ashyq-probe join INVITE --config FILE\n');
      return 2;
    }
    try {
      streams.out.write(await (await import('./join.js')).joinCollector(positionals[1]!, values.config));
      return 0;
    } catch (err) {
      if (err instanceof AshyqError) {
        streams.err.write(`ashyq-probe: join: ${err.message}\n`);
        return 2;
      }
      streams.err.write(`ashyq-probe: join: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
  }
  if ((command === 'daemon' || command === 'status') && positionals.length === 1) {
    if (values.once || values.targets !== undefined || (command === 'daemon' && values.json)) {
      streams.err.write(`ashyq-probe: ${command} takes --config${command === 'status' ? ' and --json' : ''} only\n`);
      return 2;
    }
    try {
      // Loaded only when used: `run --once` never needs the daemon's or the uploader's code (memory).
      if (command === 'daemon') return await (await import('./daemon.js')).daemonCommand(values.config, streams);
      return await (await import('./status.js')).statusCommand({ json: values.json === true, ...(values.config !== undefined ? { configFile: values.config } : {}) }, streams);
    } catch (err) {
      if (err instanceof AshyqError && err.code === 'ASHYQ_ERR_CONFIG') {
        streams.err.write(`ashyq-probe: invalid configuration:\n${err.message}\n`);
        return 2;
      }
      streams.err.write(`ashyq-probe: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      return 1;
    }
  }
  if (command !== 'run' || positionals.length > 1) {
    streams.err.write(`ashyq-probe: ${command === undefined ? 'no command given' : `unknown command "${positionals.join(' ')}"`}\n\n${USAGE}`);
    return 2;
  }
  if (!values.once) {
    streams.err.write('ashyq-probe: run needs --once\n');
    return 2;
  }
  const controller = new AbortController();
  const onSignal = () => {
    streams.err.write('\nashyq-probe: interrupted, closing connections\n');
    controller.abort(new Error('interrupted'));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await runOnce(
      {
        json: values.json === true,
        ...(values.targets !== undefined ? { targetsFile: values.targets } : {}),
        ...(values.config !== undefined ? { configFile: values.config } : {}),
      },
      streams,
      controller.signal,
    );
    return 0;
  } catch (err) {
    if (controller.signal.aborted) return 130;
    if (err instanceof AshyqError && err.code === 'ASHYQ_ERR_CONFIG') {
      streams.err.write(`ashyq-probe: invalid configuration:\n${err.message}\n`);
      return 2;
    }
    streams.err.write(`ashyq-probe: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
