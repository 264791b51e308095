// The probe daemon: start-up (state, identity, spool, targets, network), then schedule → measure → spool → upload until stopped.
//
// Start-up, in order: the state directory (0700) and its lock; the identity (made at first start);
// the spool (damaged data set aside and reported loudly); the collector client; the target list
// (cached, else the collector's, else the local file); registration and the collector's view of
// the network, asked together with a fresh target list. Then the scheduler measures, every
// measurement goes to the spool (and is logged as taken once append resolved), and the uploader
// sends what the spool holds. The collector is polled for the target list (and surges) and whoami.
//
// Stopping (the signal aborts): no new run; a run in flight may finish within stopGraceMs, then it
// is aborted; the uploader finishes its batch within the same bound; the status is written as
// stopped and the spool closed. A network failure is never fatal; only configuration and state
// faults (a bad local target file, unusable identity files, a locked state directory) throw.
//
// Revoked (the collector answers 403 probe_revoked, see revoked.ts): the daemon says so once, starts
// no run, upload or poll again and idles until it is stopped; the spool is kept as it is.
//
// The phases live beside this file: start-up.ts, measuring.ts, uploads.ts, poll.ts, status-writer.ts
// and shutdown.ts; activity.ts holds what the status reports, closers.ts what the stop closes.
import { RunJournal } from './run-journal.js';
import { DataUse } from './data-use.js';
import { mkdir } from 'node:fs/promises';
import type { Clock } from '../../common/clock.js';
import { lockStateDir } from '../../common/lock.js';
import { stateDirOf, type ProbeConfig } from '../config/probe-config.js';
import type { Network } from '../deps.js';
import type { Uploader } from '../upload/uploader.js';
import { version } from '../version.js';
import { Activity } from './activity.js';
import { Closers } from './closers.js';
import type { Log } from './log.js';
import { measuringRun, measuringScheduler, spoolCutShortRun } from './measuring.js';
import { ControlFetcher } from './controls.js';
import { CollectorPoll } from './poll.js';
import { Schedule } from './schedule.js';
import { systemTimers, type Timers } from './scheduler.js';
import { shutDown } from './shutdown.js';
import { RevokedProbe } from './revoked.js';
import type { Revocation } from '../upload/revocation.js';
import { startUp, type Started } from './start-up.js';
import type { DaemonStatus } from './status.js';
import { StatusWriter } from './status-writer.js';
import { uploaderFor } from './uploads.js';

export interface DaemonDeps {
  network: Network;
  clock: Clock;
  log: Log;
  /** Uniform in [0, 1): jitter and backoff. */
  random?: () => number;
  timers?: Timers;
  /** For stateDirOf ($STATE_DIRECTORY). */
  env?: Record<string, string | undefined>;
  /** How long a run (and an upload) in flight may finish once a stop is asked; then it is aborted. */
  stopGraceMs?: number;
}

/** Settings of the daemon that the config does not expose. */
export const DAEMON_TUNING = {
  stopGraceMs: 10_000,
  /** After a run, once its upload has had time to go out, a full collection gives memory back. */
  releaseMemoryDelayMs: 2_000,
  /** Bound on each step of a collector request (connect with proxy and TLS, headers, body). */
  collectorTimeoutMs: 30_000,
  /** How often the status file is refreshed when uploads change it between runs. */
  statusEveryMs: 15_000,
  /** A collector answer about the network is forgotten after this long without a new one. */
  locationMaxAgeMs: 6 * 3_600_000,
  /** A run is aborted after max(interval, this). */
  minRunDeadlineMs: 10 * 60_000,
};

/** Resolves once the daemon stopped after `signal` aborted; rejects on a configuration or state fault at start. */
export async function runDaemon(config: ProbeConfig, deps: DaemonDeps, signal: AbortSignal): Promise<void> {
  const { clock, log, network } = deps;
  const random = deps.random ?? Math.random;
  const timers = deps.timers ?? systemTimers;
  const stopGraceMs = deps.stopGraceMs ?? DAEMON_TUNING.stopGraceMs;
  const startedAt = new Date(clock.now()).toISOString();

  const stateDir = stateDirOf(config, deps.env);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const lock = await lockStateDir(stateDir);
  const closers = new Closers(log);
  closers.push(() => lock.release());
  const activity = new Activity(clock);
  const status = new StatusWriter(stateDir, log);

  try {
    let uploader: Uploader | null = null;
    const kickUploads = () => uploader?.kick();
    // Bound once the daemon can act on it; one seen during start-up is in client.revocation().
    let revokedBy: (revocation: Revocation) => void = () => undefined;
    const started = await startUp(
      {
        config,
        stateDir,
        clock,
        network,
        log,
        activity,
        status,
        closers,
        kickUploads,
        collectorTimeoutMs: DAEMON_TUNING.collectorTimeoutMs,
        locationMaxAgeMs: DAEMON_TUNING.locationMaxAgeMs,
        onRevoked: (r) => revokedBy(r),
      },
      signal,
    );
    const { client, targets, timing } = started;
    const controls = client === null || config.collector === null ? null : new ControlFetcher(client, log, config.collector.control_max_age_minutes * 60_000);
    const dataUse = await DataUse.open(stateDir, config.schedule.data_budget_mb, clock.now());
    const journal = new RunJournal(stateDir);
    await spoolCutShortRun({ config, started, log, activity, journal, kickUploads });

    const schedule = new Schedule(timing, { clock, random }, targets.targets());
    schedule.applySurge(targets.surge());
    const scheduler = measuringScheduler({
      schedule,
      clock,
      timers,
      log,
      activity,
      runDeadlineMs: Math.max(timing.intervalMs, DAEMON_TUNING.minRunDeadlineMs),
      run: measuringRun({
        config,
        started,
        network,
        clock,
        log,
        activity,
        status,
        kickUploads,
        releaseMemoryDelayMs: DAEMON_TUNING.releaseMemoryDelayMs,
        dataUse,
        journal,
        ...(controls !== null ? { controls: () => controls.forRun() } : {}),
      }),
    });
    const revoked = new RevokedProbe({
      collector: config.collector?.url ?? 'collector',
      probeId: started.identity.probeId,
      stateDir,
      log,
      status,
      waiting: () => started.spool.stats().count,
    });
    if (client !== null) {
      uploader = uploaderFor({ config, started, client, clock, random, log, status, stopTimeoutMs: stopGraceMs, timers, onRevoked: (r) => revoked.seen(r) });
    }

    status.begin(() => statusOf(config, started, { schedule, uploader, activity, startedAt, clock, dataUse, revoked: revoked.status() }));
    const poll = new CollectorPoll({
      enabled: client !== null,
      targets,
      location: started.location,
      schedule,
      scheduler,
      timers,
      random,
      everyMs: Math.min(config.schedule.surge_min_interval_minutes, config.schedule.interval_minutes) * 60_000,
      log,
      activity,
      status,
      signal,
    });
    // Revoked: nothing more can be delivered to this collector, so nothing more is measured or asked.
    revoked.halts(() => scheduler.halt());
    revoked.halts(() => poll.halt());
    revoked.halts(() => {
      const r = revoked.status();
      if (r !== null) uploader?.revoked(r);
    });
    revokedBy = (r) => revoked.seen(r);
    const early = client?.revocation() ?? null;
    if (early !== null) revoked.seen(early);

    if (!signal.aborted) {
      scheduler.start();
      uploader?.start();
      poll.start();
      status.refreshEvery(timers, DAEMON_TUNING.statusEveryMs);
      status.update();
      const c = config.collector;
      log(
        'info',
        `started: probe ${started.identity.probeId}, ${targets.targets().length} targets every ${config.schedule.interval_minutes} min, state in ${stateDir}, ${c === null ? 'no collector (measurements stay in the spool)' : `uploading to ${c.url}`}`,
      );
      await aborted(signal);
    }

    await shutDown({ started, scheduler, uploader, poll, status, activity, closers, clock, log, stopGraceMs });
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/** The status file's record of the daemon now. */
function statusOf(
  config: ProbeConfig,
  started: Started,
  now: { schedule: Schedule; uploader: Uploader | null; activity: Activity; startedAt: string; clock: Clock; dataUse: DataUse; revoked: Revocation | null },
): DaemonStatus {
  const { identity, spool, targets, location } = started;
  const { activity } = now;
  const c = config.collector;
  return {
    version: 1,
    state: activity.state,
    pid: process.pid,
    probe_id: identity.probeId,
    software: version,
    started_at: now.startedAt,
    updated_at: new Date(now.clock.now()).toISOString(),
    collector: c?.url ?? null,
    proxy: c?.proxy != null,
    // Revoked: no run is due any more.
    schedule: now.revoked === null ? now.schedule.snapshot() : { ...now.schedule.snapshot(), next_run_at: null },
    runs: activity.runs,
    taken: activity.taken,
    last_run: activity.lastRun,
    data: now.dataUse.status(now.clock.now()),
    spool: { ...spool.stats(), set_aside_at_start: [...spool.setAside] },
    upload: now.uploader?.status() ?? null,
    targets: targets.status(),
    location: location.status(),
    last_error: activity.lastError,
    revoked: now.revoked,
  };
}

/** Resolves once `signal` aborted. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
