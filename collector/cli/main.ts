// The ashyq-collector command line: options, help, and dispatch to one file per command (serve, reindex, surge).
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { systemClock, type Clock } from '../../common/clock.js';
import { AshyqError } from '../../common/errors.js';
import { lockStateDir, type LockOwner } from '../../common/lock.js';
import type { CollectorDeps } from '../app.js';
import { loadCollectorConfig, type CollectorConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { InputError, type Output } from './output.js';
import { runReindex } from './reindex.js';
import { serve } from './serve.js';
import { runSurge, type SurgeArgs } from './surge.js';

const HELP = `Usage: ashyq-collector <command> [--config FILE]

Commands:
  serve      accept probe registrations and measurement batches, answer queries
  reindex    rebuild the store (measurement ids, aggregates) from the archive (refused while the
             server runs on the same data directory: stop it first)
  surge      ask probes to measure some targets more often for a while (kept in <data_dir>/surge.json;
             a running server serves it at once):
               surge --targets ID,ID --every MINUTES (--for DURATION | --until TIME)
                                  start or replace the surge: DURATION such as 90m, 2h, 1d, 1h30m;
                                  TIME in ISO 8601 with a zone; at most 7 days ahead; MINUTES 1-1440
               surge --stop       end it
               surge              show the current surge

Options:
  --config FILE   YAML configuration (default: the embedded one: data in ./var/collector,
                  listening on 127.0.0.1:8480)
  --help          show this text

Environment:
  ASHYQ_ENROLLMENT_TOKEN   an enrollment token (else one is generated and kept in the data dir)
  ASHYQ_INFLUX_URL, ASHYQ_INFLUX_TOKEN, ASHYQ_INFLUX_ORG, ASHYQ_INFLUX_BUCKET
                           write time series to InfluxDB (or a server speaking its v2 write API)
`;

export interface CliOptions {
  stdout?: Output;
  stderr?: Output;
  env?: Record<string, string | undefined>;
  /** Stops `serve` (default: SIGINT or SIGTERM). */
  signal?: AbortSignal;
  /** Extra dependencies for `serve` (e.g. followers of the archive). */
  deps?: Partial<CollectorDeps>;
  /** The clock of `surge` (default: the system clock). */
  clock?: Clock;
}

interface Args {
  command: string | undefined;
  config: string | undefined;
  help: boolean;
  surge: SurgeArgs;
}

function parse(argv: string[]): Args {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        targets: { type: 'string' },
        every: { type: 'string' },
        for: { type: 'string' },
        until: { type: 'string' },
        stop: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.positionals.length > 1) throw new UsageError(`unexpected argument ${parsed.positionals[1]}`);
  const v = parsed.values;
  const surge: SurgeArgs = { targets: v.targets, every: v.every, for: v.for, until: v.until, stop: v.stop === true };
  const command = parsed.positionals[0];
  if (command !== 'surge' && !v.help) {
    const flag = (['targets', 'every', 'for', 'until', 'stop'] as const).find((k) => v[k] !== undefined);
    if (flag !== undefined) throw new UsageError(`--${flag} is an option of the surge command only`);
  }
  return { command, config: v.config, help: v.help === true, surge };
}

/**
 * serve and reindex own the data directory: one of them at a time (a reindex under a running server
 * would rebuild the store while batches are added to it). surge only writes its own file.
 */
export const COLLECTOR_LOCK: LockOwner = { socket: 'collector.sock', abstractPrefix: 'ashyq-collector-', holder: 'ashyq-collector (serve or reindex)' };

async function withDataDir<T>(config: CollectorConfig, work: () => Promise<T>): Promise<T> {
  await mkdir(config.data_dir, { recursive: true });
  const lock = await lockStateDir(config.data_dir, COLLECTOR_LOCK);
  try {
    return await work();
  } finally {
    await lock.release();
  }
}

/** Run the command line; resolves to the process exit code. */
export async function main(argv: string[], options: CliOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  try {
    const args = parse(argv);
    if (args.help || args.command === 'help') {
      stdout.write(HELP);
      return 0;
    }
    if (args.command === undefined) throw new UsageError('a command is required');
    const config = await loadCollectorConfig(args.config, options.env ?? process.env);
    if (args.command === 'serve') return await withDataDir(config, () => serve(config, options, stdout, stderr));
    if (args.command === 'reindex') return await withDataDir(config, () => runReindex(config, stdout));
    if (args.command === 'surge') return await runSurge(config, args.surge, options.clock ?? systemClock, stdout);
    throw new UsageError(`unknown command ${args.command}`);
  } catch (err) {
    if (err instanceof InputError) {
      stderr.write(`ashyq-collector: ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      stderr.write(`ashyq-collector: ${err.message}\n\n${HELP}`);
      return 2;
    }
    if (err instanceof AshyqError) {
      stderr.write(`ashyq-collector: ${err.message}\n`);
      return err.code === 'ASHYQ_ERR_CONFIG' ? 2 : 1;
    }
    stderr.write(`ashyq-collector: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
