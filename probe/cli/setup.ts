// `ashyq-probe setup <invite>`: one command after install: the collector checked through its pin, the config written, the probe enrolled, a first run measured and spooled, the service started.
import { chmod, chown, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { lockStateDir, type StateLock } from '../../common/lock.js';
import { parseTargets, loadTargets } from '../../contract/target-list.js';
import type { Measurement } from '../../contract/measurement.js';
import { describeRunLine, lineOfRun } from '../classify/line.js';
import { stateDirOf, targetsFileOf, type ProbeConfig } from '../config/probe-config.js';
import { CONTROL_FETCH_TIMEOUT_MS, fetchControlSet } from '../daemon/controls.js';
import type { Deps } from '../deps.js';
import { engineOptionsFrom } from '../engine/options.js';
import { runTargets } from '../engine/run.js';
import { loadOrCreateIdentity, type Identity } from '../identity.js';
import { probeInfo } from '../probe-info.js';
import { Spool } from '../spool/spool.js';
import { trustOf } from '../trust.js';
import { CollectorClient, UploadError } from '../upload/client.js';
import { formatLine, formatSummary } from './format.js';
import { planJoin, writeJoin, type JoinPlan } from './join.js';
import type { HostSystem } from './host.js';

/** Where a packaged probe keeps its config and its state. */
export const SYSTEM_CONFIG = '/etc/ashyq/probe.yaml';
export const SYSTEM_STATE_DIR = '/var/lib/ashyq';
export const SERVICE = 'ashyq-probe';
/** The service's user (made by the package). */
export const SERVICE_USER = 'ashyq';
const COLLECTOR_TIMEOUT_MS = 15_000;

export interface SetupArgs {
  invite: string;
  configFile: string;
  /** Enable and start the service (when systemd runs here). */
  start: boolean;
}

export interface SetupIo {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
}

/** A failure setup explains and stops at; nothing after the failing step was done. */
export class SetupError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'SetupError';
  }
}

/** What the volunteer is told when the collector cannot be enrolled with. */
function enrollFailure(err: unknown, url: string): SetupError {
  if (err instanceof UploadError && err.kind === 'pin_mismatch') {
    return new SetupError(
      [
        `the server that answered at ${url} presented a certificate whose key is NOT the collector's key in the invite. Nothing was sent and nothing was written.`,
        'Someone between you and the collector is intercepting your encrypted connections (a "security certificate" installed by order of an authority, a company or school proxy, an antivirus that inspects HTTPS), or the invite is out of date.',
        'Do not install a certificate you were asked to install; try from another connection, or ask the collector operator for a new invite.',
        `(${err.message})`,
      ].join('\n'),
      1,
    );
  }
  if (err instanceof UploadError && err.kind === 'network') {
    return new SetupError(`cannot reach the collector at ${url}: ${err.message}. Nothing was written; check the connection (or set collector.proxy in the config) and run setup again.`, 1);
  }
  if (err instanceof UploadError && (err.apiCode === 'invite_used' || err.apiCode === 'invite_expired' || err.apiCode === 'bad_token')) {
    const why = err.apiCode === 'invite_used' ? 'was used by another probe already' : err.apiCode === 'invite_expired' ? 'has expired' : 'is not known to the collector';
    return new SetupError(`the invite ${why} (${err.message}). Ask the collector operator for a new one. Nothing was written.`, 1);
  }
  return new SetupError(`enrolling with the collector at ${url} failed: ${err instanceof Error ? err.message : String(err)}. Nothing was written.`, 1);
}

/**
 * The probe's state owned by the service user, so that the daemon (not root) can use it; the config
 * group-owned by it and readable by its group (never by others: it holds the secret). Returns what
 * changed on the config, to be said.
 */
async function handOver(host: HostSystem, plan: JoinPlan, stateDir: string): Promise<string | null> {
  const user = await host.serviceUser(SERVICE_USER);
  if (user === null || !host.isRoot()) return null;
  await host.chownTree(stateDir, user.uid, user.gid);
  const before = await stat(plan.file);
  const mode = (before.mode & 0o770) | 0o040;
  await chown(plan.file, before.uid, user.gid);
  await chmod(plan.file, mode);
  const was = before.mode & 0o777;
  return before.gid === user.gid && was === mode ? null : `${plan.file} is now group ${SERVICE_USER}, mode ${mode.toString(8).padStart(4, '0')} (was ${was.toString(8).padStart(4, '0')}): the service reads it, nobody else may`;
}

/** The first run: the collector's target list (else the packaged one), judged with its control, spooled for the daemon to upload. */
async function firstRun(config: ProbeConfig, identity: Identity, client: CollectorClient, stateDir: string, deps: Deps, io: SetupIo, signal: AbortSignal): Promise<Measurement[]> {
  let targets;
  try {
    const answer = await client.fetchTargets(null);
    targets = answer.status === 'ok' ? parseTargets(answer.text, 'the collector\'s target list') : await loadTargets(targetsFileOf(config));
  } catch (err) {
    io.err.write(`ashyq-probe setup: the collector's target list could not be had (${(err as Error).message}); measuring the packaged one\n`);
    targets = await loadTargets(targetsFileOf(config));
  }
  const options = engineOptionsFrom(config, probeInfo(identity.probeId, config.probe), await trustOf(config), signal);
  const c = config.collector!;
  const controls = await fetchControlSet(client, (_level, message) => io.err.write(`ashyq-probe setup: ${message}\n`), c.control_max_age_minutes * 60_000, CONTROL_FETCH_TIMEOUT_MS);
  if (controls !== undefined) options.controls = controls;
  const measurements = await runTargets(targets, options, deps);
  const spool = await Spool.open(path.join(stateDir, 'spool'), { capBytes: Math.floor(config.spool.cap_mb * 1024 * 1024), clock: deps.clock });
  try {
    for (const m of measurements) await spool.append(m);
  } finally {
    await spool.close();
  }
  return measurements;
}

/**
 * Set the probe up from an invite, in order; each step's failure is said and stops what follows:
 * the invite decoded and the config planned (nothing written), the state directory locked (no
 * daemon on it), the collector checked through the invite's pin while enrolling, the config
 * written, a first run measured and spooled, the service enabled and started.
 */
export async function setupProbe(args: SetupArgs, io: SetupIo, deps: Deps, host: HostSystem, signal: AbortSignal): Promise<number> {
  const say = (s: string) => io.out.write(`${s}\n`);
  // The packaged layout: the system config keeps its state where the unit expects it; another config, where the daemon would.
  const plan = await planJoin(args.invite, args.configFile, path.resolve(args.configFile) === SYSTEM_CONFIG ? { state_dir: SYSTEM_STATE_DIR } : {});
  const config = plan.config;
  const stateDir = stateDirOf(config);
  const url = plan.invite.url;
  const systemd = host.systemd();
  // A daemon already on this state (setup run again, to move to another collector): stopped first.
  if (systemd && (await host.systemctl(['is-active', '--quiet', SERVICE])).code === 0) {
    say(`stopping the running ${SERVICE} service for the new settings…`);
    await host.systemctl(['stop', SERVICE]);
  }
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  let lock: StateLock;
  try {
    lock = await lockStateDir(stateDir);
  } catch (err) {
    throw new SetupError(`${(err as Error).message}: stop the daemon using ${stateDir} first, then run setup again`, 1);
  }
  let measurements: Measurement[];
  let identity: Identity;
  try {
    identity = await loadOrCreateIdentity(stateDir, { clock: deps.clock });
    const c = config.collector!;
    const client = new CollectorClient(
      { url: c.url, pinSpkiSha256: c.pin_spki_sha256, proxy: c.proxy, enrollmentToken: c.enrollment_token, timeoutMs: COLLECTOR_TIMEOUT_MS },
      identity,
      { clock: deps.clock, network: deps.network, stateDir },
    );
    try {
      say(`checking the collector at ${url} through the key pinned in the invite, and enrolling…`);
      try {
        await client.register();
      } catch (err) {
        throw enrollFailure(err, url);
      }
      say(`enrolled as probe ${identity.probeId}: the collector's key matched the invite (no interception on the way).`);
      await writeJoin(plan);
      say(`${plan.existed ? 'updated' : 'wrote'} ${plan.file} (mode ${plan.mode.toString(8).padStart(4, '0')}: it holds the enrollment secret); the probe's identity and spool are in ${stateDir}.`);
      say('measuring every target once (a minute or so)…');
      measurements = await firstRun(config, identity, client, stateDir, deps, io, signal);
    } finally {
      await client.close();
    }
  } finally {
    await lock.release();
  }
  const handed = await handOver(host, plan, stateDir);
  if (handed !== null) say(handed);
  say('');
  for (const m of measurements) say(`  ${formatLine(m)}`);
  say(`first run: ${formatSummary(measurements)}; spooled, the daemon uploads it.`);
  const line = describeRunLine(lineOfRun(measurements));
  if (line !== null) say(`line: ${line}`);
  say('');
  if (!systemd) {
    say('systemd is not running here, so no service was started. Run the daemon (it measures on its schedule and uploads):');
    say(`  ${host.isRoot() && (await host.serviceUser(SERVICE_USER)) !== null ? `sudo -u ${SERVICE_USER} ` : ''}ashyq-probe daemon --config ${plan.file}`);
  } else if (!args.start) {
    say(`the service was not started (--no-start); start it with: sudo systemctl enable --now ${SERVICE}`);
  } else {
    const enabled = await host.systemctl(['enable', '--now', SERVICE]);
    if (enabled.code !== 0) throw new SetupError(`systemctl enable --now ${SERVICE} failed (${enabled.output.trim()}); see: journalctl -u ${SERVICE}`, 1);
    say(`the ${SERVICE} service is enabled and running: it measures every ${config.schedule.interval_minutes} minutes and starts at boot.`);
  }
  say(`Next: ashyq-probe status --config ${plan.file}   (last run, spool, last upload, last error)`);
  if (systemd) say(`      journalctl -u ${SERVICE} -f   (the daemon's log)`);
  return 0;
}
