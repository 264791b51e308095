// `ashyq-probe daemon`: run the daemon until SIGTERM or SIGINT, then stop within a bound and exit 0.
import { loadProbeConfig, type ProbeConfig } from '../config/probe-config.js';
import { runDaemon, type DaemonDeps } from '../daemon/daemon.js';
import { logFor, type Log } from '../daemon/log.js';
import { systemDeps, type Deps } from '../deps.js';
import { AshyqError } from '../../common/errors.js';

export interface DaemonStreams {
  err: { write(text: string): unknown; isTTY?: boolean };
}

/** What `serveDaemon` may be given besides the network and the clock (the defaults are the real ones). */
export type ServeDeps = Deps & Partial<Omit<DaemonDeps, 'network' | 'clock' | 'log'>> & { log?: Log };

/**
 * Run the daemon with `config` until the process gets SIGTERM or SIGINT; returns the exit status:
 * 0 after a clean stop, 1 on a state fault, 2 on a configuration fault. A second signal while
 * stopping exits at once (the spool is crash-safe).
 */
export async function serveDaemon(config: ProbeConfig, streams: DaemonStreams, deps: ServeDeps, options: { json?: boolean } = {}): Promise<number> {
  // JSON lines when asked (tooling); journald's lines under systemd; a readable line per run on a terminal.
  const log = deps.log ?? logFor(streams.err, deps.clock, { json: options.json === true, env: process.env });
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log('warn', `${name} again: exiting now; the spool keeps every measurement taken`);
      process.exit(130);
    }
    log('info', `${name} received`);
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await runDaemon(config, { ...deps, log }, controller.signal);
    return 0;
  } catch (err) {
    if (err instanceof AshyqError && err.code === 'ASHYQ_ERR_CONFIG') {
      log('error', `invalid configuration:\n${err.message}`);
      return 2;
    }
    log('error', `cannot run: ${err instanceof AshyqError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/** `ashyq-probe daemon [--config F] [--json]` on the machine's network and clock. */
export async function daemonCommand(configFile: string | undefined, streams: DaemonStreams, options: { json?: boolean } = {}): Promise<number> {
  let config: ProbeConfig;
  try {
    config = await loadProbeConfig(configFile);
  } catch (err) {
    if (err instanceof AshyqError && err.code === 'ASHYQ_ERR_CONFIG') {
      streams.err.write(`ashyq-probe: invalid configuration:\n${err.message}\n`);
      return 2;
    }
    throw err;
  }
  return serveDaemon(config, streams, systemDeps(), options);
}
