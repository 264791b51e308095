// The daemon's measuring: one scheduled run (measure, spool and log each measurement, note the run) and the scheduler driving the runs.
import { setMaxListeners } from 'node:events';
import type { Clock } from '../../common/clock.js';
import type { Measurement } from '../../contract/measurement.js';
import type { Target } from '../../contract/target.js';
import type { ProbeConfig } from '../config/probe-config.js';
import type { Network } from '../deps.js';
import { DataMeter, meteredNetwork } from '../engine/data-meter.js';
import { engineOptionsFrom, type ControlSet } from '../engine/options.js';
import { judgeRun, runTargets, type MeasuredTarget } from '../engine/run.js';
import { releaseMemoryAfterRun } from '../engine/v8-flags.js';
import { describeRunLine, lineOfRun } from '../classify/line.js';
import { DaemonStoppingError, RunDeadlineError } from '../errors.js';
import { probeInfo } from '../probe-info.js';
import type { Activity } from './activity.js';
import type { DataUse } from './data-use.js';
import type { RunJournal } from './run-journal.js';
import { errorText, type Log } from './log.js';
import type { Schedule } from './schedule.js';
import { Scheduler, type Timers } from './scheduler.js';
import type { Started } from './start-up.js';
import type { StatusWriter } from './status-writer.js';
import { runSummary } from './run-summary.js';

export interface RunOptions {
  config: ProbeConfig;
  started: Pick<Started, 'identity' | 'location' | 'trust' | 'spool'>;
  network: Network;
  clock: Clock;
  log: Log;
  activity: Activity;
  status: StatusWriter;
  /** Tell the uploader that the spool holds something new. */
  kickUploads: () => void;
  /** After a run, once its upload has had time to go out, a full collection gives memory back. */
  releaseMemoryDelayMs: number;
  /** The month's data use and the volunteer's budget. */
  dataUse: DataUse;
  /** The run in flight, target by target (judged at the next start if a crash cuts it short). */
  journal: RunJournal;
  /** The control vantage's evidence for a run, fetched at its start (absent: no collector). */
  controls?: () => Promise<ControlSet | undefined>;
}

/**
 * One run: measure `list` (every step listening on `signal`), append each measurement to the spool
 * and log it as taken once the append resolved. Rejects when the engine fails or the spool cannot
 * store a measurement; the last run is noted either way.
 */
export function measuringRun(o: RunOptions): (list: Target[], signal: AbortSignal) => Promise<void> {
  const { config, started, network, clock, log, activity, status } = o;
  const iso = (ms = clock.now()) => new Date(ms).toISOString();
  return async (list, runSignal) => {
    const began = clock.now();
    const allowance = o.dataUse.allowance(began);
    if (allowance === 'skip') {
      const budget = Math.round(o.dataUse.budgetBytes / 1e6);
      const why = `skipped: the monthly data budget (schedule.data_budget_mb: ${budget} MB) is spent; runs resume when the month ends (UTC)`;
      if (activity.lastRun?.error !== why) log('warn', why);
      activity.lastRun = { started_at: iso(began), finished_at: iso(began), targets: list.length, measurements: 0, verdicts: {}, error: why, bytes: 0 };
      status.update();
      return;
    }
    activity.runs++;
    // Every step of every target listens on the run's signal.
    setMaxListeners(0, runSignal);
    const engine = engineOptionsFrom(config, probeInfo(started.identity.probeId, started.location.current()), started.trust, runSignal);
    // Bulk reads (most of a run's bytes) in one run of bulk_every_runs, and not while ahead of the budget's pace.
    const bulkDue = (activity.runs - 1) % config.measure.bulk_every_runs === 0 && allowance === 'full';
    const controls = o.controls === undefined ? undefined : await o.controls();
    const options = {
      ...engine,
      bulk: { ...engine.bulk, enabled: engine.bulk.enabled && bulkDue },
      onMeasured: (m: MeasuredTarget) => o.journal.note(m),
      ...(log.progress !== undefined ? { onProgress: log.progress } : {}),
      ...(controls !== undefined ? { controls } : {}),
    };
    await o.journal.begin();
    const meter = new DataMeter();
    const counted = async (): Promise<number> => {
      const bytes = meter.bytes;
      await o.dataUse.add(bytes, clock.now()).catch((err: unknown) => log('warn', `could not keep the month's data use: ${errorText(err)}`));
      return bytes;
    };
    let measurements: Measurement[];
    try {
      measurements = await runTargets(list, options, { network: meteredNetwork(network, meter), clock });
    } catch (err) {
      const bytes = await counted();
    await o.journal.judged();
      activity.lastRun = { started_at: iso(began), finished_at: iso(), targets: list.length, measurements: 0, verdicts: {}, error: errorText(err), bytes };
      status.update();
      throw err;
    }
    const bytes = await counted();
    const verdicts: Record<string, number> = {};
    let appended = 0;
    try {
      for (const m of measurements) {
        await started.spool.append(m);
        // Counted as taken as soon as it is in the spool: a status written while the journal is noted agrees with the spool.
        appended++;
        activity.taken++;
        await o.journal.spooled(m.id);
        verdicts[m.verdict.verdict] = (verdicts[m.verdict.verdict] ?? 0) + 1;
        log('info', `taken ${m.id} ${m.target.id} ${m.verdict.verdict}`, 'taken');
      }
    } catch (err) {
      const why = `the spool could not store a measurement (${measurements.length - appended} of this run lost): ${errorText(err)}`;
      activity.lastRun = { started_at: iso(began), finished_at: iso(), targets: list.length, measurements: appended, verdicts, error: why, bytes };
      throw new Error(why, { cause: err });
    } finally {
      if (appended > 0) o.kickUploads();
      status.update();
    }
    log('info', runSummary(measurements, clock.now() - began, appended), 'run');
    const line = lineOfRun(measurements);
    const lineText = describeRunLine(line);
    if (lineText !== null) log(line?.portal !== null ? 'warn' : 'info', `line: ${lineText}`);
    activity.lastRun = { started_at: iso(began), finished_at: iso(), targets: list.length, measurements: appended, verdicts, error: null, bytes, line };
    await o.journal.end();
    // The daemon now idles until the next run: hand back what the run's connections used.
    setTimeout(releaseMemoryAfterRun, o.releaseMemoryDelayMs).unref();
  };
}

export interface MeasuringSchedulerOptions {
  schedule: Schedule;
  clock: Clock;
  timers: Timers;
  log: Log;
  activity: Activity;
  run: (list: Target[], signal: AbortSignal) => Promise<void>;
  runDeadlineMs: number;
}

/** The scheduler of the daemon's runs: a failed run is noted as the last error; one aborted by the stop is only logged. */
export function measuringScheduler(o: MeasuringSchedulerOptions): Scheduler {
  const { log, activity } = o;
  return new Scheduler({
    schedule: o.schedule,
    clock: o.clock,
    timers: o.timers,
    runDeadlineMs: o.runDeadlineMs,
    run: (list, runSignal) => o.run(list, runSignal),
    onRunError: (err) => {
      if (err instanceof DaemonStoppingError) {
        log('warn', 'stopping: the run in flight was aborted; its measurements were not taken');
        return;
      }
      const why = err instanceof RunDeadlineError ? err.message : `a measuring run failed: ${errorText(err)}`;
      activity.fail(why);
      log('error', why);
    },
  });
}

/**
 * At start: the targets a run cut short by a crash had measured, judged together (blocked verdicts
 * without an international canary among them become inconclusive) and spooled. Returns how many.
 */
export async function spoolCutShortRun(o: Pick<RunOptions, 'config' | 'started' | 'log' | 'activity' | 'journal' | 'kickUploads'>): Promise<number> {
  const left = await o.journal.left();
  let spooled = 0;
  if (left.measured.length > 0) {
    const options = engineOptionsFrom(o.config, probeInfo(o.started.identity.probeId, o.started.location.current()), o.started.trust);
    // Judged with every target the run measured (the canary rule needs them all); spooled: those not yet in the spool.
    const measurements = judgeRun(left.measured, options, !left.judged).filter((m) => !left.spooled.has(m.id));
    for (const m of measurements) {
      await o.started.spool.append(m);
      o.activity.taken++;
      o.log('info', `taken ${m.id} ${m.target.id} ${m.verdict.verdict} (measured by the run cut short)`, 'taken');
    }
    spooled = measurements.length;
    if (spooled > 0) {
      o.log('warn', `the last run was cut short (a crash or a kill): ${spooled} measurement(s) it had measured were judged and spooled now`);
      o.kickUploads();
    }
  }
  await o.journal.end();
  return spooled;
}
