// The ashyq-collector command line: options, help, and dispatch to one file per command (serve, reindex, events, import, simulate, surge, report).
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { systemClock, type Clock } from '../../common/clock.js';
import { argsProblem } from '../../common/args.js';
import { AshyqError } from '../../common/errors.js';
import { lockStateDir, type LockOwner } from '../../common/lock.js';
import { version } from '../../common/version.js';
import type { CollectorDeps } from '../app.js';
import { loadCollectorConfig, type CollectorConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { commandHelp } from './help.js';
import { InputError, type Output } from './output.js';
import type { SurgeArgs } from './surge.js';

export const COMMANDS = ['serve', 'reindex', 'events', 'import', 'simulate', 'surge', 'report', 'invite', 'probes', 'revoke'];

const HELP = `Usage: ashyq-collector <command> [--config FILE] [options]

Commands:
  serve      accept probe registrations and measurement batches, answer queries
  reindex    rebuild the store (measurement ids, aggregates) and the blocking events from the
             archive (refused while the server runs on the same data directory: stop it first)
  events     list blocking events (the server may be running):
               events [--since TIME] [--until TIME] [--target ID] [--asn N] [--cc CC]
                      [--method dns|tcp|tls|interception|http|throttling|shutdown] [--open] [--json]
  import     take archive segments (JSON lines, or gzipped) through the same path as live uploads:
               import FILE... [--json]     (refused while the server runs: stop it first)
  simulate   write a synthetic month of a probe fleet as archive segments, with its ground truth:
               simulate --out DIR [--days N] [--probes N] [--seed N]
  surge      ask probes to measure some targets more often for a while (kept in <data_dir>/surge.json;
             a running server serves it at once):
               surge --targets ID,ID --every MINUTES (--for DURATION | --until TIME)
                                  start or replace the surge: DURATION such as 90m, 2h, 1d, 1h30m;
                                  TIME in ISO 8601 with a zone; at most 7 days ahead; MINUTES 1-1440
               surge --stop       end it
               surge              show the current surge
  report     the monthly freedom report (the server may be running): report.html (self-contained),
             report.md, one CSV per table, charts/*.svg, and report.pdf when Chromium is found
             ($ASHYQ_CHROMIUM, or chromium / chromium-browser on the PATH):
               report --month YYYY-MM --out DIR [--country KZ] [--lang en|ru] [--base-url URL]

  invite     print a single-use invite for one volunteer's probe (the collector URL, its key pin and an
             enrollment secret in one string; the server may be running):
               invite --url URL [--note TEXT] [--expires DURATION (default 7d, at most 90d)] [--json]
  probes     list the registered probes: id, state, network, last seen, measurements, software, note
               probes [--json]
  revoke     refuse a probe's uploads from now on (what it uploaded stays in the archive); with
             --retroactive (all it measured) or --since TIME its past measurements stop counting in
             aggregates, series and events too, once reindex has run:
               revoke PROBE-ID [--retroactive | --since TIME]

Options:
  --config FILE   YAML configuration (default: the embedded one: data in ./var/collector,
                  listening on 127.0.0.1:8480)
  --help          show this text; \`ashyq-collector <command> --help\` shows that command's usage
                  and options
  --version       print the version

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
  /** The clock of `surge`, `events`, `import` and `report` (default: the system clock). */
  clock?: Clock;
}

/** Every option besides --config, --help and --version, and the commands it belongs to. */
export const OPTIONS = {
  targets: { type: 'string', commands: ['surge'] },
  every: { type: 'string', commands: ['surge'] },
  for: { type: 'string', commands: ['surge'] },
  until: { type: 'string', commands: ['surge', 'events'] },
  stop: { type: 'boolean', commands: ['surge'] },
  since: { type: 'string', commands: ['events', 'revoke'] },
  retroactive: { type: 'boolean', commands: ['revoke'] },
  target: { type: 'string', commands: ['events'] },
  asn: { type: 'string', commands: ['events'] },
  cc: { type: 'string', commands: ['events'] },
  method: { type: 'string', commands: ['events'] },
  open: { type: 'boolean', commands: ['events'] },
  json: { type: 'boolean', commands: ['events', 'import', 'invite', 'probes'] },
  url: { type: 'string', commands: ['invite'] },
  note: { type: 'string', commands: ['invite'] },
  expires: { type: 'string', commands: ['invite'] },
  out: { type: 'string', commands: ['simulate', 'report'] },
  month: { type: 'string', commands: ['report'] },
  country: { type: 'string', commands: ['report'] },
  lang: { type: 'string', commands: ['report'] },
  'base-url': { type: 'string', commands: ['report'] },
  days: { type: 'string', commands: ['simulate'] },
  probes: { type: 'string', commands: ['simulate'] },
  seed: { type: 'string', commands: ['simulate'] },
  log: { type: 'string', commands: ['serve'] },
} as const;
type OptionName = keyof typeof OPTIONS;

/** Commands that take positional arguments (files). */
const WITH_FILES = new Set(['import', 'revoke']);

export interface Args {
  command: string | undefined;
  config: string | undefined;
  help: boolean;
  version: boolean;
  /** Positional arguments after the command. */
  files: string[];
  values: { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };
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
        version: { type: 'boolean' },
        ...Object.fromEntries(Object.entries(OPTIONS).map(([name, o]) => [name, { type: o.type }])),
      },
    });
  } catch (err) {
    throw new UsageError(argsProblem(err));
  }
  const [command, ...rest] = parsed.positionals;
  if (rest.length > 0 && !WITH_FILES.has(command ?? '') && !(command === 'help' && rest.length === 1)) throw new UsageError(`unexpected argument ${rest[0]}`);
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (!v['help']) {
    for (const name of Object.keys(OPTIONS) as OptionName[]) {
      const owners: readonly string[] = OPTIONS[name].commands;
      if (v[name] === undefined || owners.includes(command ?? '')) continue;
      const list = owners.length === 1 ? `the ${owners[0]} command` : `the ${owners.slice(0, -1).join(', ')} and ${owners.at(-1)} commands`;
      throw new UsageError(`--${name} is an option of ${list} only`);
    }
  }
  const values: Args['values'] = {};
  for (const name of Object.keys(OPTIONS) as OptionName[]) if (v[name] !== undefined) (values as Record<string, unknown>)[name] = v[name];
  return { command, config: v['config'] as string | undefined, help: v['help'] === true, version: v['version'] === true, files: rest, values };
}

/** The command named in argv, read leniently (for the help after a usage error); undefined when none is known. */
function commandOf(argv: string[]): string | undefined {
  const strings = Object.entries(OPTIONS).filter(([, o]) => o.type === 'string');
  const { positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { config: { type: 'string', short: 'c' }, ...Object.fromEntries(strings.map(([name]) => [name, { type: 'string' as const }])) },
  });
  const command = positionals[0];
  return command !== undefined && COMMANDS.includes(command) ? command : undefined;
}

/** The help of one command, listing the options the table above gives it. */
function helpOf(command: string): string {
  const owned = (Object.keys(OPTIONS) as OptionName[])
    .filter((name) => (OPTIONS[name].commands as readonly string[]).includes(command))
    .map((name) => ({ name, type: OPTIONS[name].type }));
  return commandHelp(command, owned);
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
    if (args.version) {
      stdout.write(`${version}\n`);
      return 0;
    }
    // `help COMMAND` is `COMMAND --help`.
    const helpFor = args.command === 'help' ? args.files[0] : args.help ? args.command : undefined;
    if (helpFor !== undefined) {
      if (!COMMANDS.includes(helpFor)) throw new UsageError(`unknown command ${helpFor}`);
      stdout.write(helpOf(helpFor));
      return 0;
    }
    if (args.help || args.command === 'help') {
      stdout.write(HELP);
      return 0;
    }
    if (args.command === undefined) throw new UsageError('a command is required');
    if (!COMMANDS.includes(args.command)) throw new UsageError(`unknown command ${args.command}`);
    const config = await loadCollectorConfig(args.config, options.env ?? process.env);
    // Each command's modules are loaded when it runs: an import or the server never holds the report's
    // charting and browser libraries (tens of MB of code).
    if (args.command === 'serve') {
      const { serve } = await import('./serve.js');
      return await withDataDir(config, () => serve(config, options, stdout, stderr, args.values.log));
    }
    if (args.command === 'reindex') {
      const { runReindex } = await import('./reindex.js');
      return await withDataDir(config, () => runReindex(config, stdout));
    }
    const clock = options.clock ?? systemClock;
    const surge: SurgeArgs = { targets: args.values.targets, every: args.values.every, for: args.values.for, until: args.values.until, stop: args.values.stop === true };
    if (args.command === 'surge') return await (await import('./surge.js')).runSurge(config, surge, clock, stdout);
    if (args.command === 'events') return (await import('./events.js')).runEvents(config, args.values, stdout);
    if (args.command === 'import') {
      const { runImport } = await import('./import.js');
      return await withDataDir(config, () => runImport(config, args.files, args.values.json === true, clock, stdout, stderr));
    }
    if (args.command === 'invite') return await (await import('./probes.js')).runInvite(config, args.values, clock, stdout);
    if (args.command === 'probes') return await (await import('./probes.js')).runProbes(config, args.values.json === true, clock, stdout);
    if (args.command === 'revoke') {
      if (args.files.length > 1) throw new UsageError(`revoke: one probe at a time (got ${args.files.length})`);
      return await (await import('./probes.js')).runRevoke(config, args.files[0], { retroactive: args.values.retroactive === true, since: args.values.since }, clock, stdout);
    }
    if (args.command === 'simulate') return await (await import('./simulate.js')).runSimulate(args.values, stdout);
    if (args.command === 'report') return await (await import('./report.js')).runReport(config, args.values, clock, options.env ?? process.env, stdout, stderr);
    throw new UsageError(`unknown command ${args.command}`);
  } catch (err) {
    if (err instanceof InputError) {
      stderr.write(`ashyq-collector: ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError) {
      const command = commandOf(argv);
      stderr.write(`ashyq-collector: ${err.message}\n\n${command === undefined ? HELP : helpOf(command)}`);
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
