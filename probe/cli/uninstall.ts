// `ashyq-probe uninstall`: the probe's identity, spool and config removed after asking (the service stopped first); the program itself stays for the package manager.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { systemClock } from '../../common/clock.js';
import { lockStateDir } from '../../common/lock.js';
import { loadProbeConfig, stateDirOf } from '../config/probe-config.js';
import { Spool } from '../spool/spool.js';
import type { HostSystem } from './host.js';
import { SERVICE, SetupError, type SetupIo } from './setup.js';

export interface UninstallArgs {
  configFile: string;
  /** Remove without asking. */
  yes: boolean;
}

/** Asks a yes/no question on the terminal; null when there is no terminal to ask on. */
export type Ask = (question: string) => Promise<boolean | null>;

/** Measurements still in the spool (never uploaded), or null when there is no spool. */
async function pendingCount(stateDir: string): Promise<number | null> {
  const dir = path.join(stateDir, 'spool');
  if (!existsSync(dir)) return null;
  const spool = await Spool.open(dir, { capBytes: Number.MAX_SAFE_INTEGER, clock: systemClock });
  try {
    return spool.stats().count;
  } finally {
    await spool.close();
  }
}

export async function uninstallProbe(args: UninstallArgs, io: SetupIo, host: HostSystem, ask: Ask): Promise<number> {
  const say = (s: string) => io.out.write(`${s}\n`);
  const config = await loadProbeConfig(args.configFile);
  const stateDir = stateDirOf(config);
  const pending = await pendingCount(stateDir);
  const lost = pending === null || pending === 0 ? '' : ` — ${pending} measurement${pending === 1 ? '' : 's'} not yet uploaded would be lost`;
  if (!args.yes) {
    const answer = await ask(`Remove this probe's identity and spool in ${stateDir}${lost}, and its config ${args.configFile}? [y/N] `);
    if (answer === null) throw new SetupError('uninstall: no terminal to ask on: pass --yes to remove without asking', 2);
    if (!answer) {
      say('nothing removed');
      return 0;
    }
  }
  if (host.systemd()) {
    await host.systemctl(['disable', '--now', SERVICE]);
    say(`stopped and disabled the ${SERVICE} service`);
  }
  if (existsSync(stateDir)) {
    // A daemon still on the state (run by hand) is not pulled from under.
    let lock;
    try {
      lock = await lockStateDir(stateDir);
    } catch (err) {
      throw new SetupError(`${(err as Error).message}: stop that daemon first, then run uninstall again`, 1);
    }
    await lock.release();
    await rm(stateDir, { recursive: true, force: true });
    say(`removed ${stateDir} (the probe's identity${pending ? ` and ${pending} measurements not uploaded` : ' and spool'})`);
  }
  await rm(args.configFile, { force: true });
  say(`removed ${args.configFile}`);
  say('The program itself: sudo apt purge ashyq-probe (a package), or delete the directory it was unpacked in.');
  return 0;
}
