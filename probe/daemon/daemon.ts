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
import { setMaxListeners } from 'node:events';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { stateDirOf, targetsFileOf, type ProbeConfig } from '../config/probe-config.js';
import type { Network } from '../deps.js';
import type { Clock } from '../../common/clock.js';
import { DaemonStoppingError, RunDeadlineError } from '../errors.js';
import { engineOptionsFrom } from '../engine/options.js';
import { runTargets } from '../engine/run.js';
import { releaseMemoryAfterRun } from '../engine/v8-flags.js';
import { trustOf } from '../trust.js';
import { loadOrCreateIdentity } from '../identity.js';
import type { Measurement } from '../../contract/measurement.js';
import { probeInfo } from '../probe-info.js';
import type { Target } from '../../contract/target.js';
import { Spool } from '../spool/spool.js';
import type { TlsObservation } from '../../contract/evidence.js';
import { CollectorClient, UploadError } from '../upload/client.js';
import { Uploader } from '../upload/uploader.js';
import { version } from '../version.js';
import { InterceptionRecorder } from './interception.js';
import { Location } from './location.js';
import { lockStateDir } from '../../common/lock.js';
import { errorText, type Log } from './log.js';
import { Schedule, scheduleSettingsOf } from './schedule.js';
import { Scheduler, systemTimers, type Timers } from './scheduler.js';
import { writeStatus, type DaemonStatus, type LastRun } from './status.js';
import { TargetSource } from './targets.js';
import { SerialQueue } from '../../common/serial-queue.js';

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

export const SPOOL_DIR = 'spool';

/** Resolves once the daemon stopped after `signal` aborted; rejects on a configuration or state fault at start. */
export async function runDaemon(config: ProbeConfig, deps: DaemonDeps, signal: AbortSignal): Promise<void> {
  const { clock, log, network } = deps;
  const random = deps.random ?? Math.random;
  const timers = deps.timers ?? systemTimers;
  const stopGraceMs = deps.stopGraceMs ?? DAEMON_TUNING.stopGraceMs;
  const iso = (ms = clock.now()) => new Date(ms).toISOString();
  const startedAt = iso();

  const stateDir = stateDirOf(config, deps.env);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const lock = await lockStateDir(stateDir);
  const closers: Array<() => Promise<void>> = [() => lock.release()];
  const cleanUp = async () => {
    const list = closers.splice(0).reverse();
    for (const close of list) await close().catch((err: unknown) => log('error', `stopping: ${errorText(err)}`));
  };

  let lastError: DaemonStatus['last_error'] = null;
  const fail = (message: string) => {
    lastError = { at: iso(), message };
  };
  let runs = 0;
  let taken = 0;
  let lastRun: LastRun | null = null;
  let state: DaemonStatus['state'] = 'running';

  // The status file: written after runs, uploads and polls (serialised, coalesced) once start-up is done.
  let snapshot: (() => DaemonStatus) | null = null;
  const writes = new SerialQueue();
  let queued = false;
  let lastWritten = '';
  const comparable = (st: DaemonStatus) => JSON.stringify({ ...st, updated_at: null });
  const status = {
    update(): void {
      if (queued || snapshot === null) return;
      queued = true;
      void writes.run(async () => {
        queued = false;
        if (snapshot === null) return;
        const st = snapshot();
        lastWritten = comparable(st);
        try {
          await writeStatus(stateDir, st);
        } catch (err) {
          log('warn', `status: cannot write ${path.join(stateDir, 'status.json')}: ${errorText(err)}`);
        }
      });
    },
    /** Write when something changed since the last write. */
    refresh(): void {
      if (snapshot !== null && comparable(snapshot()) !== lastWritten) status.update();
    },
    flush: () => writes.idle(),
  };

  try {
    const identity = await loadOrCreateIdentity(stateDir, { clock });
    const capBytes = Math.floor(config.spool.cap_mb * 1024 * 1024);
    const spool = await Spool.open(path.join(stateDir, SPOOL_DIR), { capBytes, clock });
    closers.push(() => spool.close());
    for (const s of spool.setAside) {
      log('error', `SPOOL DAMAGE SET ASIDE: ${s.bytes} bytes moved to ${s.file}: ${s.reason}; every intact measurement is kept and uploaded`);
    }
    if (spool.setAside.length > 0) fail(`${spool.setAside.length} damaged part(s) of the spool set aside at start (see the spool's corrupt/ directory)`);
    const trust = await trustOf(config);

    const c = config.collector;
    const client =
      c === null
        ? null
        : new CollectorClient(
            { url: c.url, pinSpkiSha256: c.pin_spki_sha256, proxy: c.proxy, enrollmentToken: c.enrollment_token, timeoutMs: DAEMON_TUNING.collectorTimeoutMs },
            identity,
            { clock, network, stateDir },
          );
    if (client !== null) closers.push(() => client.close());
    // A stop asked during start-up must not wait for a collector that does not answer.
    const onEarlyStop = () => void client?.close();
    signal.addEventListener('abort', onEarlyStop, { once: true });

    let uploader: Uploader | null = null;
    const settings = scheduleSettingsOf(config.schedule);
    const location = new Location({
      config: config.probe,
      client,
      viaProxy: c?.proxy != null,
      clock,
      log,
      maxAgeMs: DAEMON_TUNING.locationMaxAgeMs,
      onPinMismatch: (e) => onPinMismatch(e),
    });
    const interceptions = new InterceptionRecorder({
      spool,
      probe: () => probeInfo(identity.probeId, location.current()),
      clock,
      log,
      minGapMs: settings.intervalMs,
      onRecorded: () => {
        taken++;
        uploader?.kick();
        status.update();
      },
    });
    closers.push(() => interceptions.flush());
    const onPinMismatch = (evidence: TlsObservation) => {
      fail('the collector presented a certificate whose key is not pinned (possible interception): nothing was sent');
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

    const register = async () => {
      if (client === null || identity.registered) return;
      try {
        await client.register();
        identity.registered = true;
        log('info', `registered with the collector as probe ${identity.probeId}`);
      } catch (err) {
        if (err instanceof UploadError && err.kind === 'pin_mismatch' && err.pinEvidence !== undefined) onPinMismatch(err.pinEvidence);
        const why = `registration with the collector failed (measurements are kept in the spool; it is tried again with the uploads): ${errorText(err)}`;
        fail(why);
        log(err instanceof UploadError && err.kind === 'network' ? 'warn' : 'error', why);
      }
    };
    if (!signal.aborted) await Promise.all([register(), targets.refresh(), location.refresh()]);
    signal.removeEventListener('abort', onEarlyStop);
    if (location.asks) log('info', `location: ${JSON.stringify(location.current())}`);
    else if (c?.proxy != null) log('info', 'location: uploads go through a proxy, so the collector is not asked about the network; the config\'s probe section states it');

    // ── measuring ─────────────────────────────────────────────────────────────
    const schedule = new Schedule(settings, { clock, random }, targets.targets());
    schedule.applySurge(targets.surge());

    const run = async (list: Target[], runSignal: AbortSignal) => {
      const began = clock.now();
      runs++;
      // Every step of every target listens on the run's signal.
      setMaxListeners(0, runSignal);
      const options = engineOptionsFrom(config, probeInfo(identity.probeId, location.current()), trust, runSignal);
      let measurements: Measurement[];
      try {
        measurements = await runTargets(list, options, { network, clock });
      } catch (err) {
        lastRun = { started_at: iso(began), finished_at: iso(), targets: list.length, measurements: 0, verdicts: {}, error: errorText(err) };
        status.update();
        throw err;
      }
      const verdicts: Record<string, number> = {};
      let appended = 0;
      try {
        for (const m of measurements) {
          await spool.append(m);
          appended++;
          taken++;
          verdicts[m.verdict.verdict] = (verdicts[m.verdict.verdict] ?? 0) + 1;
          log('info', `taken ${m.id} ${m.target.id} ${m.verdict.verdict}`);
        }
      } catch (err) {
        const why = `the spool could not store a measurement (${measurements.length - appended} of this run lost): ${errorText(err)}`;
        lastRun = { started_at: iso(began), finished_at: iso(), targets: list.length, measurements: appended, verdicts, error: why };
        throw new Error(why, { cause: err });
      } finally {
        if (appended > 0) uploader?.kick();
        status.update();
      }
      lastRun = { started_at: iso(began), finished_at: iso(), targets: list.length, measurements: appended, verdicts, error: null };
      // The daemon now idles until the next run: hand back what the run's connections used.
      setTimeout(releaseMemoryAfterRun, DAEMON_TUNING.releaseMemoryDelayMs).unref();
    };

    const scheduler = new Scheduler({
      schedule,
      clock,
      timers,
      runDeadlineMs: Math.max(settings.intervalMs, DAEMON_TUNING.minRunDeadlineMs),
      run: (list, runSignal) => run(list, runSignal),
      onRunError: (err) => {
        if (err instanceof DaemonStoppingError) {
          log('warn', 'stopping: the run in flight was aborted; its measurements were not taken');
          return;
        }
        const why = err instanceof RunDeadlineError ? err.message : `a measuring run failed: ${errorText(err)}`;
        fail(why);
        log('error', why);
      },
    });

    if (client !== null) {
      uploader = new Uploader({
        spool,
        client,
        clock,
        batchSize: config.upload.batch_size,
        backoff: { baseMs: config.upload.backoff_base_s * 1000, capMs: config.upload.backoff_cap_s * 1000 },
        random,
        onPinMismatch,
        log,
        stopTimeoutMs: stopGraceMs,
        // `ashyq-probe status` shows an upload as soon as it is answered.
        onAttempt: () => status.update(),
      });
    }

    snapshot = (): DaemonStatus => ({
      version: 1,
      state,
      pid: process.pid,
      probe_id: identity.probeId,
      software: version,
      started_at: startedAt,
      updated_at: iso(),
      collector: c?.url ?? null,
      proxy: c?.proxy != null,
      schedule: schedule.snapshot(),
      runs,
      taken,
      last_run: lastRun,
      spool: { ...spool.stats(), set_aside_at_start: [...spool.setAside] },
      upload: uploader?.status() ?? null,
      targets: targets.status(),
      location: location.status(),
      last_error: lastError,
    });

    // ── the collector poll: target list, surges, network ──────────────────────
    const pollMs = Math.min(config.schedule.surge_min_interval_minutes, config.schedule.interval_minutes) * 60_000;
    let pollTimer: unknown = null;
    let statusTimer: unknown = null;
    const poll = async () => {
      try {
        const outcome = await targets.refresh();
        if (outcome === 'changed') schedule.setTargets(targets.targets());
        if (outcome === 'changed' || outcome === 'unchanged') schedule.applySurge(targets.surge());
        await location.refresh();
        scheduler.wake();
      } catch (err) {
        fail(`asking the collector for targets and network failed: ${errorText(err)}`);
        log('error', lastError?.message ?? errorText(err));
      }
      status.update();
    };
    const armPoll = () => {
      if (client === null || signal.aborted) return;
      pollTimer = timers.setTimeout(() => {
        void poll().finally(armPoll);
      }, pollMs * (0.9 + 0.2 * random()));
    };
    const armStatus = () => {
      statusTimer = timers.setTimeout(() => {
        status.refresh();
        armStatus();
      }, DAEMON_TUNING.statusEveryMs);
    };

    if (!signal.aborted) {
      scheduler.start();
      uploader?.start();
      armPoll();
      armStatus();
      status.update();
      log(
        'info',
        `started: probe ${identity.probeId}, ${targets.targets().length} targets every ${config.schedule.interval_minutes} min, state in ${stateDir}, ${c === null ? 'no collector (measurements stay in the spool)' : `uploading to ${c.url}`}`,
      );
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }

    // ── stopping ──────────────────────────────────────────────────────────────
    const t0 = clock.monotonic();
    log('info', `stopping: no new runs; a run or upload in flight gets ${Math.round(stopGraceMs / 1000)} s to finish`);
    state = 'stopping';
    if (pollTimer !== null) timers.clearTimeout(pollTimer);
    if (statusTimer !== null) timers.clearTimeout(statusTimer);
    status.update();
    await Promise.all([scheduler.stop(stopGraceMs), uploader?.stop()]);
    await client?.close();
    await interceptions.flush();
    state = 'stopped';
    status.update();
    await status.flush();
    const waiting = spool.stats().count;
    await cleanUp();
    log('info', `stopped in ${((clock.monotonic() - t0) / 1000).toFixed(1)} s; ${waiting} measurements wait in the spool`);
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
