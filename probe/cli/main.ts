// The `ashyq-probe` command dispatcher: parses the arguments and hands them to run --once, daemon or status (bin/ashyq-probe.cjs calls main).
import { parseArgs } from 'node:util';
import { argsProblem } from '../../common/args.js';
import { AshyqError } from '../../common/errors.js';
import { COMMAND_HELP } from './help.js';
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
      --json        log one JSON object per line (time, level, kind, msg) instead of text
  setup INVITE      one command after install: check the collector through the invite's pinned key,
                    enroll, write the config, measure a first run, enable and start the service
      --config F    the probe config to write (default: /etc/ashyq/probe.yaml)
      --no-start    do not enable or start the service
  uninstall         remove the probe's identity, spool and config (after asking; the service stopped)
      --config F    the probe config (default: /etc/ashyq/probe.yaml)
      --yes         do not ask
  join INVITE       write the collector an operator's invite names (its URL, key pin and a single-use
                    enrollment secret) into the probe config, keeping the rest of the file
      --config F    the probe config to write (created when absent, mode 0640)
  status            show the daemon's schedule, last run, spool, last upload and last error
      --config F    the probe config the daemon runs with (to find its state_dir)
      --json        print the status file as JSON
  --version         print the version
  --help            print this text; \`ashyq-probe <command> --help\` shows that command's usage
                    and options

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
        'no-start': { type: 'boolean' },
        yes: { type: 'boolean' },
      },
    });
  } catch (err) {
    const command = argv.find((a) => Object.hasOwn(COMMAND_HELP, a));
    streams.err.write(`ashyq-probe: ${argsProblem(err)}\n\n${command === undefined ? USAGE : COMMAND_HELP[command]}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    streams.out.write(`${version}\n`);
    return 0;
  }
  const command = positionals[0];
  // `help COMMAND` is `COMMAND --help`.
  if (values.help || command === 'help') {
    const about = command === 'help' ? positionals[1] : command;
    if (about === undefined) {
      streams.out.write(USAGE);
      return 0;
    }
    const help = Object.hasOwn(COMMAND_HELP, about) ? COMMAND_HELP[about] : undefined;
    if (help === undefined) {
      streams.err.write(`ashyq-probe: unknown command "${about}"\n\n${USAGE}`);
      return 2;
    }
    streams.out.write(help);
    return 0;
  }
  if (command === 'setup' || command === 'uninstall') {
    const extra = command === 'setup' ? values.yes : values['no-start'];
    if (positionals.length !== (command === 'setup' ? 2 : 1) || values.once || values.json || values.targets !== undefined || extra === true) {
      streams.err.write(`ashyq-probe: usage: ${command === 'setup' ? 'ashyq-probe setup INVITE [--config F] [--no-start]' : 'ashyq-probe uninstall [--config F] [--yes]'}\n`);
      return 2;
    }
    return await hostCommand(command, positionals[1], values, streams);
  }
  if (values.yes === true || values['no-start'] === true) {
    streams.err.write(`ashyq-probe: ${values.yes === true ? '--yes' : '--no-start'} belongs to ${values.yes === true ? 'uninstall' : 'setup'}\n`);
    return 2;
  }
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
    if (values.once || values.targets !== undefined) {
      streams.err.write(`ashyq-probe: ${command} takes --config and --json only\n`);
      return 2;
    }
    try {
      // Loaded only when used: `run --once` never needs the daemon's or the uploader's code (memory).
      if (command === 'daemon') return await (await import('./daemon.js')).daemonCommand(values.config, streams, { json: values.json === true });
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

/** setup and uninstall: they act on the machine (its service manager, the service user) and explain every failure. */
async function hostCommand(
  command: 'setup' | 'uninstall',
  invite: string | undefined,
  values: { config?: string | undefined; yes?: boolean | undefined; 'no-start'?: boolean | undefined },
  streams: { out: NodeJS.WritableStream; err: NodeJS.WritableStream },
): Promise<number> {
  const { SYSTEM_CONFIG, SetupError, setupProbe } = await import('./setup.js');
  const { systemHost } = await import('./host.js');
  const configFile = values.config ?? SYSTEM_CONFIG;
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  try {
    if (command === 'setup') {
      const { systemDeps } = await import('../deps.js');
      return await setupProbe({ invite: invite!, configFile, start: values['no-start'] !== true }, streams, systemDeps(), systemHost(), controller.signal);
    }
    const { uninstallProbe } = await import('./uninstall.js');
    return await uninstallProbe({ configFile, yes: values.yes === true }, streams, systemHost(), (question) => askYesNo(question, streams));
  } catch (err) {
    if (err instanceof SetupError) {
      streams.err.write(`ashyq-probe: ${command}: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof AshyqError) {
      streams.err.write(`ashyq-probe: ${command}: ${err.message}\n`);
      return 2;
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EACCES' || e.code === 'EPERM') {
      streams.err.write(`ashyq-probe: ${command}: ${e.message}: run it as root (sudo ashyq-probe ${command} …) or name a config you may write with --config\n`);
      return 1;
    }
    streams.err.write(`ashyq-probe: ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
  }
}

/** A yes/no question on the terminal; null when stdin is not one. */
async function askYesNo(question: string, streams: { out: NodeJS.WritableStream }): Promise<boolean | null> {
  if (process.stdin.isTTY !== true) return null;
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: streams.out });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
