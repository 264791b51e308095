// `ashyq-probe status`: what the daemon last wrote to its status file, for people or as JSON.
import { loadProbeConfig, stateDirOf } from '../config/probe-config.js';
import { stateDirLocked } from '../../common/lock.js';
import { formatStatus, processAlive, readStatus } from '../daemon/status.js';

export interface StatusArgs {
  configFile?: string;
  json: boolean;
}

/** Prints the status; 0 when the daemon is running, 3 when it is stopped or gone, 4 when it never ran here (as `systemctl status`). */
export async function statusCommand(args: StatusArgs, streams: { out: { write(text: string): unknown }; err: { write(text: string): unknown } }, now = Date.now()): Promise<number> {
  const config = await loadProbeConfig(args.configFile);
  const stateDir = stateDirOf(config);
  let status;
  try {
    status = await readStatus(stateDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'EACCES' ? ' (run it as the daemon\'s user, e.g. sudo -u ashyq ashyq-probe status --config …)' : '';
    streams.err.write(`ashyq-probe: cannot read the status in ${stateDir}: ${(err as Error).message}${hint}\n`);
    return 4;
  }
  if (status === null) {
    streams.err.write(`ashyq-probe: no daemon has run with the state directory ${stateDir} (no status.json)\n`);
    return 4;
  }
  // The lock socket tells a live daemon from a PID reused after a crash; the PID is the fallback.
  const alive = status.state !== 'stopped' && ((await stateDirLocked(stateDir)) ?? processAlive(status.pid));
  if (args.json) streams.out.write(`${JSON.stringify({ ...status, alive }, null, 2)}\n`);
  else streams.out.write(formatStatus(status, now, alive, stateDir));
  return alive ? 0 : 3;
}
