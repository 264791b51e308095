// The daemon's start-up once its state directory is locked: identity, spool, trust, collector client, network, targets, registration.
import path from 'node:path';
import type { Clock } from '../../common/clock.js';
import type { TlsObservation } from '../../contract/evidence.js';
import { targetsFileOf, type ProbeConfig } from '../config/probe-config.js';
import type { Network } from '../deps.js';
import { loadOrCreateIdentity, type Identity } from '../identity.js';
import { probeInfo } from '../probe-info.js';
import { Spool } from '../spool/spool.js';
import { trustOf, type TrustStore } from '../trust.js';
import { CollectorClient, UploadError } from '../upload/client.js';
import type { Revocation } from '../upload/revocation.js';
import type { Activity } from './activity.js';
import type { Closers } from './closers.js';
import { InterceptionRecorder } from './interception.js';
import { Location } from './location.js';
import { errorText, type Log } from './log.js';
import { scheduleTimingOf, type ScheduleTiming } from './schedule.js';
import type { StatusWriter } from './status-writer.js';
import { TargetSource } from './targets.js';

const SPOOL_DIR = 'spool';

export interface StartUpOptions {
  config: ProbeConfig;
  stateDir: string;
  clock: Clock;
  network: Network;
  log: Log;
  activity: Activity;
  status: StatusWriter;
  /** Everything opened here is pushed to be closed at the stop (or when start-up fails). */
  closers: Closers;
  /** Tell the uploader (once there is one) that the spool holds something new. */
  kickUploads: () => void;
  /** Bound on each step of a collector request. */
  collectorTimeoutMs: number;
  /** A collector answer about the network is forgotten after this long without a new one. */
  locationMaxAgeMs: number;
  /** The collector answered that it revoked this probe (to any request; the client then sends nothing more). */
  onRevoked?: (revocation: Revocation) => void;
}

/** What start-up made, for the run loop, the uploads and the stop. */
export interface Started {
  identity: Identity;
  spool: Spool;
  trust: TrustStore;
  client: CollectorClient | null;
  location: Location;
  interceptions: InterceptionRecorder;
  targets: TargetSource;
  timing: ScheduleTiming;
  /** The collector presented a key that is not pinned: noted as the last error and recorded as a measurement. */
  onPinMismatch: (evidence: TlsObservation) => void;
}

/**
 * Open everything the daemon needs, in order; then, unless `signal` already aborted, register and
 * ask the collector for targets and the network together. A stop during start-up closes the
 * client, so that nothing waits for a collector that does not answer.
 */
export async function startUp(o: StartUpOptions, signal: AbortSignal): Promise<Started> {
  const { config, stateDir, clock, log, activity, status, closers } = o;
  const identity = await loadOrCreateIdentity(stateDir, { clock });
  const spool = await openSpool(o);
  const trust = await trustOf(config);

  const c = config.collector;
  const client = collectorClientOf(o, identity);
  if (client !== null) closers.push(() => client.close());
  // A stop asked during start-up must not wait for a collector that does not answer.
  const onEarlyStop = () => void client?.close();
  signal.addEventListener('abort', onEarlyStop, { once: true });

  const timing = scheduleTimingOf(config.schedule);
  const location = new Location({
    config: config.probe,
    client,
    viaProxy: c?.proxy != null,
    clock,
    log,
    maxAgeMs: o.locationMaxAgeMs,
    onPinMismatch: (e) => onPinMismatch(e),
  });
  const interceptions = new InterceptionRecorder({
    spool,
    probe: () => probeInfo(identity.probeId, location.current()),
    clock,
    log,
    minGapMs: timing.intervalMs,
    onRecorded: () => {
      activity.taken++;
      o.kickUploads();
      status.update();
    },
  });
  closers.push(() => interceptions.flush());
  const onPinMismatch = (evidence: TlsObservation) => {
    activity.fail('the collector presented a certificate whose key is not pinned (possible interception): nothing was sent');
    interceptions.record(evidence);
  };

  const targets = new TargetSource({
    stateDir,
    localFile: targetsFileOf(config),
    client,
    collectorName: c?.url ?? 'collector',
    clock,
    log,
    onPinMismatch,
  });
  await targets.load();

  if (!signal.aborted) await Promise.all([register(o, client, identity, onPinMismatch), targets.refresh(), location.refresh()]);
  signal.removeEventListener('abort', onEarlyStop);
  if (location.asks) log('info', `location: ${JSON.stringify(location.current())}`);
  else if (c?.proxy != null) log('info', 'location: uploads go through a proxy, so the collector is not asked about the network; the config\'s probe section states it');

  return { identity, spool, trust, client, location, interceptions, targets, timing, onPinMismatch };
}

/** The spool in the state directory; damaged parts set aside while opening it are reported loudly. */
async function openSpool(o: StartUpOptions): Promise<Spool> {
  const { config, stateDir, clock, log, activity, closers } = o;
  const capBytes = Math.floor(config.spool.cap_mb * 1024 * 1024);
  const spool = await Spool.open(path.join(stateDir, SPOOL_DIR), { capBytes, clock });
  closers.push(() => spool.close());
  for (const s of spool.setAside) {
    log('error', `SPOOL DAMAGE SET ASIDE: ${s.bytes} bytes moved to ${s.file}: ${s.reason}; every intact measurement is kept and uploaded`);
  }
  if (spool.setAside.length > 0) activity.fail(`${spool.setAside.length} damaged part(s) of the spool set aside at start (see the spool's corrupt/ directory)`);
  return spool;
}

/** The client of the config's collector; null when the daemon only spools. */
function collectorClientOf(o: StartUpOptions, identity: Identity): CollectorClient | null {
  const c = o.config.collector;
  if (c === null) return null;
  return new CollectorClient(
    { url: c.url, pinSpkiSha256: c.pin_spki_sha256, proxy: c.proxy, enrollmentToken: c.enrollment_token, timeoutMs: o.collectorTimeoutMs },
    identity,
    { clock: o.clock, network: o.network, stateDir: o.stateDir, ...(o.onRevoked !== undefined ? { onRevoked: o.onRevoked } : {}) },
  );
}

/** Register with the collector unless done before; a failure is noted and tried again with the uploads. */
async function register(o: StartUpOptions, client: CollectorClient | null, identity: Identity, onPinMismatch: (e: TlsObservation) => void): Promise<void> {
  if (client === null || identity.registered) return;
  const { log, activity } = o;
  try {
    await client.register();
    identity.registered = true;
    log('info', `registered with the collector as probe ${identity.probeId}`);
  } catch (err) {
    if (err instanceof UploadError && err.kind === 'pin_mismatch' && err.pinEvidence !== undefined) onPinMismatch(err.pinEvidence);
    // Said once by the daemon (RevokedProbe), not as a registration failure.
    if (err instanceof UploadError && err.kind === 'revoked') return;
    const why = `registration with the collector failed (measurements are kept in the spool; it is tried again with the uploads): ${errorText(err)}`;
    activity.fail(why);
    log(err instanceof UploadError && err.kind === 'network' ? 'warn' : 'error', why);
  }
}
