// `ashyq-collector serve`: the API on the configured address, with the IP database and the InfluxDB sink when configured, until a signal.
import { systemClock } from '../../common/clock.js';
import { createCollector, type CollectorDeps } from '../app.js';
import type { CollectorConfig } from '../config.js';
import { ListenError } from '../errors.js';
import { bundledIpDatabaseFiles, loadIpDatabase, type AsnLookup } from '../ingest/asn.js';
import { ensureEnrollmentToken } from '../ingest/enrollment.js';
import { influxFollowers } from '../sinks/influx/from-config.js';
import type { CliOptions } from './main.js';
import { textLogStream } from './log-text.js';
import { InputError, type Output } from './output.js';

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

/** --log text|json; by default readable on a terminal, JSON lines otherwise (journald, docker, tooling). */
function logFormat(asked: string | undefined, stdout: Output & { isTTY?: boolean }): 'text' | 'json' {
  if (asked === undefined) return stdout.isTTY === true ? 'text' : 'json';
  if (asked !== 'text' && asked !== 'json') throw new InputError(`serve --log ${asked}: expected text or json`);
  return asked;
}

export async function serve(config: CollectorConfig, options: CliOptions, stdout: Output, stderr: Output, logAsked?: string): Promise<number> {
  const format = logFormat(logAsked, stdout);
  if (config.enrollment_tokens.length === 0) {
    const { token, file, generated } = await ensureEnrollmentToken(config.data_dir);
    config.enrollment_tokens.push(token);
    if (generated) stdout.write(`ashyq-collector: generated an enrollment token (kept in ${file}):\n  ${token}\n`);
  }
  const asnLookup = options.deps?.asnLookup ?? (await ipLookup(config, stderr));
  // The InfluxDB sink follows the archive when `influx` is configured (its cursor lives in the data dir).
  const line = (m: string) => stderr.write(`ashyq-collector: influx: ${m}\n`);
  const followers: CollectorDeps['followers'] = options.deps?.followers ?? (({ counted }) => influxFollowers(config, counted, { info: line, warn: line, error: line }));
  const collector = await createCollector(config, {
    clock: systemClock,
    ...(format === 'text' ? { log: { stream: textLogStream(stdout) } } : {}),
    ...options.deps,
    ...(asnLookup ? { asnLookup } : {}),
    followers,
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
    // A taken port (or a host not of this machine) is the operator's to fix: one line naming the key, no stack.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new ListenError(config.listen.host, config.listen.port, code, err);
    throw err;
  }
  stdout.write(`ashyq-collector: listening on ${address} (data in ${config.data_dir})\n`);
  await waitForStop(options.signal);
  await stopAll();
  stdout.write('ashyq-collector: stopped\n');
  return 0;
}

