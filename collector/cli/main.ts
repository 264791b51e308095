// The ashyq-collector command line: serve the API, rebuild the store from the archive, or set, show and stop a surge.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock, type Clock } from '../../common/clock.js';
import { lockStateDir, type LockOwner } from '../../common/lock.js';
import { AshyqError } from '../../common/errors.js';
import { Archive } from '../storage/archive.js';
import { bundledIpDatabaseFiles, loadIpDatabase, type AsnLookup } from '../ingest/asn.js';
import { loadCollectorConfig, type CollectorConfig } from '../config.js';
import { parseDuration } from '../../common/duration.js';
import { ensureEnrollmentToken } from '../ingest/enrollment.js';
import { SurgeError, UsageError } from '../errors.js';
import { InfluxSink } from '../sinks/influx/sink.js';
import { reindex } from '../pipeline/reindex.js';
import { createCollector, type CollectorDeps } from '../app.js';
import { Store } from '../storage/store.js';
import { clearSurge, readSurge, surgeFilePath, writeSurge, type StoredSurge } from '../targets/surge.js';
import { loadTargetList } from '../targets/list.js';
import { SURGE_DEFAULT_LIMITS } from '../../contract/wire.js';

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

interface Output {
  write(text: string): unknown;
}

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

interface SurgeArgs {
  targets: string | undefined;
  every: string | undefined;
  for: string | undefined;
  until: string | undefined;
  stop: boolean;
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

/** A bad value given to an option: the message names the option; the help text is not repeated. */
class InputError extends UsageError {}

/** An ISO 8601 date and time with a zone (Z or ±hh:mm), in ms; null otherwise (a time without a zone is ambiguous). */
function parseIsoTime(text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m || (!d && !h) ? `${m}m` : ''].join('');
}

/** What a probe on the default schedule does with `surge`, and what limits every volunteer's own config. */
function probeEffect(surge: StoredSurge, now: number): string {
  const d = SURGE_DEFAULT_LIMITS;
  const every = Math.max(surge.interval_minutes, d.surge_min_interval_minutes);
  const lasts = Math.min(Date.parse(surge.until) - now, d.surge_max_hours * 3_600_000);
  return (
    `Probes see it when they next ask for the target list (every surge_min_interval_minutes or interval_minutes,\n` +
    `whichever is shorter) and measure ${surge.targets.join(', ')} (and the canaries) every\n` +
    `max(${surge.interval_minutes}, surge_min_interval_minutes) minutes, for at most surge_max_hours of a surge;\n` +
    `each volunteer's config sets both. On the defaults (${d.surge_min_interval_minutes} min, ${d.surge_max_hours} h): every ${every} min for ${duration(lasts)}.\n` +
    `Probes with surge_max_hours: 0 ignore surges; targets a probe does not have are skipped.\n`
  );
}

function describeSurge(surge: StoredSurge, now: number): string {
  return `surge: ${surge.targets.join(', ')} every ${surge.interval_minutes} min until ${surge.until} (${duration(Date.parse(surge.until) - now)} from now; set ${surge.set_at})\n`;
}

/** `surge`: start or replace (--targets ...), end (--stop) or show the surge in the data dir. */
async function runSurge(config: CollectorConfig, args: SurgeArgs, clock: Clock, stdout: Output): Promise<number> {
  const starting = args.targets !== undefined || args.every !== undefined || args.for !== undefined || args.until !== undefined;
  if (args.stop) {
    if (starting) throw new UsageError('--stop takes no other surge option');
    const had = await clearSurge(config.data_dir);
    stdout.write(had ? 'ashyq-collector: surge stopped; probes return to their regular schedule at their next target-list check\n' : 'ashyq-collector: there was no surge\n');
    return 0;
  }
  const list = await loadTargetList(config.targets_file);
  if (!starting) {
    const state = await readSurge(config.data_dir, list, clock);
    const now = clock.now();
    switch (state.state) {
      case 'none':
        stdout.write('no surge\n');
        return 0;
      case 'expired':
        stdout.write(`no surge (the last one, ${state.surge.targets.join(', ')}, ended at ${state.surge.until})\n`);
        return 0;
      case 'active':
        stdout.write(describeSurge(state.surge, now));
        return 0;
      case 'invalid':
        stdout.write(`no surge served: ${surgeFilePath(config.data_dir)} is invalid: ${state.problem}\n`);
        return 1;
    }
  }
  if (args.targets === undefined) throw new UsageError('--targets is required to start a surge (target ids separated by commas)');
  if (args.every === undefined) throw new UsageError('--every is required to start a surge (minutes between measurements, 1-1440)');
  if (args.for !== undefined && args.until !== undefined) throw new UsageError('give --for or --until, not both');
  if (args.for === undefined && args.until === undefined) throw new UsageError('--for (e.g. 2h) or --until (an ISO 8601 time) is required to start a surge');
  const targets = args.targets.split(',').map((t) => t.trim());
  if (targets.some((t) => t === '')) throw new InputError(`--targets: an empty target id in ${JSON.stringify(args.targets)}`);
  if (!/^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$/.test(args.every)) throw new InputError(`--every: expected a whole number of minutes, got ${JSON.stringify(args.every)}`);
  const every = Number(args.every);
  const now = clock.now();
  let until: number;
  if (args.for !== undefined) {
    const ms = parseDuration(args.for);
    if (ms === null) throw new InputError(`--for: expected a duration such as 90m, 2h, 1d or 1h30m, got ${JSON.stringify(args.for)}`);
    until = now + ms;
  } else {
    const at = parseIsoTime(args.until!);
    if (at === null) throw new InputError(`--until: expected an ISO 8601 time with a zone, e.g. 2024-05-09T14:00:00+05:00, got ${JSON.stringify(args.until)}`);
    until = at;
  }
  let stored: StoredSurge;
  try {
    stored = await writeSurge(config.data_dir, { targets, interval_minutes: every, until }, list, clock);
  } catch (err) {
    if (!(err instanceof SurgeError)) throw err;
    const flag = { targets: '--targets', interval_minutes: '--every', until: args.for !== undefined ? '--for' : '--until', file: 'surge' }[err.field];
    throw new InputError(`${flag}: ${err.problem}`);
  }
  stdout.write(`ashyq-collector: ${describeSurge(stored, now)}`);
  stdout.write(probeEffect(stored, now));
  return 0;
}

async function ipLookup(config: CollectorConfig, stderr: Output): Promise<AsnLookup | undefined> {
  try {
    const files = config.ip_db ?? bundledIpDatabaseFiles();
    const { lookup, ranges } = await loadIpDatabase(files);
    stderr.write(`ashyq-collector: IP database loaded: ${ranges} ranges (${config.ip_db ? 'configured files' : '@ip-location-db/asn and @ip-location-db/asn-country'})\n`);
    return lookup;
  } catch (err) {
    if (config.ip_db) throw err;
    stderr.write(`ashyq-collector: no IP database (${(err as Error).message}); whoami answers null and records keep the probe's own ASN\n`);
    return undefined;
  }
}

function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal) {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
      return;
    }
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function serve(config: CollectorConfig, options: CliOptions, stdout: Output, stderr: Output): Promise<number> {
  if (config.enrollment_tokens.length === 0) {
    const { token, file, generated } = await ensureEnrollmentToken(config.data_dir);
    config.enrollment_tokens.push(token);
    if (generated) stdout.write(`ashyq-collector: generated an enrollment token (kept in ${file}):\n  ${token}\n`);
  }
  const asnLookup = options.deps?.asnLookup ?? (await ipLookup(config, stderr));
  // The InfluxDB sink follows the archive when `influx` is configured (its cursor lives in the data dir).
  const influxConfig = config.influx;
  const followers: CollectorDeps['followers'] =
    options.deps?.followers ??
    (influxConfig === null
      ? undefined
      : ({ archive }) => [
          new InfluxSink({
            ...influxConfig,
            stateDir: path.join(config.data_dir, 'influx'),
            source: (from) => archive.read(from),
            logger: {
              info: (m) => stderr.write(`ashyq-collector: influx: ${m}\n`),
              warn: (m) => stderr.write(`ashyq-collector: influx: ${m}\n`),
              error: (m) => stderr.write(`ashyq-collector: influx: ${m}\n`),
            },
          }),
        ]);
  const collector = await createCollector(config, {
    clock: systemClock,
    ...options.deps,
    ...(asnLookup ? { asnLookup } : {}),
    ...(followers ? { followers } : {}),
  });
  for (const r of collector.recovered) {
    stderr.write(`ashyq-collector: archive ${r.segment}: cut a torn last line (${r.size_before - r.size_after} bytes, never acknowledged)\n`);
  }
  if (collector.caughtUp.added > 0) stderr.write(`ashyq-collector: indexed ${collector.caughtUp.added} archived measurements missing from the store\n`);
  let address: string;
  const stopAll = () => collector.close();
  try {
    address = await collector.app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    await stopAll();
    throw err;
  }
  stdout.write(`ashyq-collector: listening on ${address} (data in ${config.data_dir})\n`);
  await waitForStop(options.signal);
  await stopAll();
  stdout.write('ashyq-collector: stopped\n');
  return 0;
}

async function runReindex(config: CollectorConfig, stdout: Output): Promise<number> {
  const store = Store.open(path.join(config.data_dir, 'store.sqlite'));
  try {
    const archive = await Archive.open(path.join(config.data_dir, 'archive'), systemClock);
    try {
      for (const r of archive.recovered) stdout.write(`ashyq-collector: archive ${r.segment}: cut a torn last line (${r.size_before - r.size_after} bytes)\n`);
      const summary = await reindex(archive, store);
      stdout.write(`ashyq-collector: reindexed ${summary.records} archived records, ${summary.added} distinct measurements\n`);
    } finally {
      await archive.close();
    }
  } finally {
    store.close();
  }
  return 0;
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
