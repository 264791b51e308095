// The ashyq-collector command line: serve the API, or rebuild the store from the archive.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../probe/deps.js';
import { AshyqError } from '../probe/errors.js';
import { Archive } from './archive.js';
import { bundledIpDatabaseFiles, loadIpDatabase, type AsnLookup } from './asn.js';
import { loadCollectorConfig, type CollectorConfig } from './config.js';
import { ensureEnrollmentToken } from './enrollment.js';
import { UsageError } from './errors.js';
import { InfluxSink } from './influx/sink.js';
import { reindex } from './reindex.js';
import { createCollector, type CollectorDeps } from './server.js';
import { Store } from './store.js';

const HELP = `Usage: ashyq-collector <command> [--config FILE]

Commands:
  serve      accept probe registrations and measurement batches, answer queries
  reindex    rebuild the store (measurement ids, aggregates) from the archive; stop the server first

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
  /** Extra dependencies for `serve` (e.g. the InfluxDB sink factory). */
  deps?: Partial<CollectorDeps>;
}

function parse(argv: string[]): { command: string | undefined; config: string | undefined; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.positionals.length > 1) throw new UsageError(`unexpected argument ${parsed.positionals[1]}`);
  return { command: parsed.positionals[0], config: parsed.values.config, help: parsed.values.help === true };
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
  let influx: InfluxSink | null = null;
  const influxConfig = config.influx;
  const sinks: CollectorDeps['sinks'] =
    options.deps?.sinks ??
    (influxConfig === null
      ? undefined
      : ({ archive }) => {
          influx = new InfluxSink({
            ...influxConfig,
            stateDir: path.join(config.data_dir, 'influx'),
            source: (from) => archive.read(from),
            logger: {
              info: (m) => stderr.write(`ashyq-collector: influx: ${m}\n`),
              warn: (m) => stderr.write(`ashyq-collector: influx: ${m}\n`),
              error: (m) => stderr.write(`ashyq-collector: influx: ${m}\n`),
            },
          });
          influx.start();
          return [influx];
        });
  const collector = await createCollector(config, {
    clock: systemClock,
    ...options.deps,
    ...(asnLookup ? { asnLookup } : {}),
    ...(sinks ? { sinks } : {}),
  });
  for (const r of collector.recovered) {
    stderr.write(`ashyq-collector: archive ${r.segment}: cut a torn last line (${r.size_before - r.size_after} bytes, never acknowledged)\n`);
  }
  if (collector.caughtUp.added > 0) stderr.write(`ashyq-collector: indexed ${collector.caughtUp.added} archived measurements missing from the store\n`);
  let address: string;
  const stopAll = async () => {
    await collector.close();
    await (influx as InfluxSink | null)?.stop();
  };
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
    if (args.command === 'serve') return await serve(config, options, stdout, stderr);
    if (args.command === 'reindex') return await runReindex(config, stdout);
    throw new UsageError(`unknown command ${args.command}`);
  } catch (err) {
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
