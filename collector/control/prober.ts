// The collector's control prober: the probe's own engine, run from the collector's vantage over every target on a schedule.
import type { Clock } from '../../common/clock.js';
import type { Measurement } from '../../contract/measurement.js';
import type { Target } from '../../contract/target.js';
import type { SurgeAnswer } from '../../contract/wire.js';
import type { EngineOptions } from '../../probe/engine/options.js';
import { runTargets } from '../../probe/engine/run.js';
import type { EngineDeps } from '../../probe/engine/vantage.js';
import type { ArchivedRecord } from '../storage/archive.js';
import { ControlIndex, type ControlRef } from './nearest.js';

/** The probe id every control measurement carries: never a volunteer's. */
export const CONTROL_PROBE_ID = 'collector-control';

export interface ControlTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface ControlProberOptions {
  /** Minutes between two runs over the whole list. */
  intervalMinutes: number;
  /** The served target list, read at each run. */
  targets: () => readonly Target[];
  /** The engine's settings for one run (its signal ends the run when the prober stops). */
  engine: (signal: AbortSignal) => EngineOptions;
  /** The network the control measures through, and the clock. */
  deps: EngineDeps;
  timers: ControlTimers;
  /** Where control measurements are kept (archived apart from the probes' and indexed for re-classification). */
  index: ControlIndex;
  /** Append the run's records durably; resolves once they are. */
  archive: (records: ArchivedRecord[]) => Promise<void>;
  /** Where the control measures from (what its records say of it). */
  vantage: { asn: number | null; cc: string | null };
  log: { info(message: string): void; warn(message: string): void };
  /** Told of each completed run (after its records are archived): its measurements. */
  onRun?: (measurements: readonly Measurement[]) => void;
  /** The surge in force (the operator's and the open events'): the control measures its targets as often as the probes do. */
  surge?: () => Promise<SurgeAnswer | null>;
}

/** How often the prober looks for a surge. */
export const CONTROL_SURGE_TICK_MS = 60_000;

/** A target named by a probe's new failure is measured again by the control at most this often. */
export const CONTROL_REQUEST_EVERY_MS = 10 * 60_000;

/** What `/api/v1/control` and `/metrics` say about the prober. */
export interface ControlStatus {
  runs: number;
  failures: number;
  lastRunAt: number | null;
  lastError: string | null;
}

/** A control measurement as the index keeps it, with the vantage it was measured from (the collector's, or a control probe's). */
export function controlRefOf(r: ArchivedRecord): ControlRef {
  const m = r.measurement;
  return { id: m.id, target: m.target.id, at: Date.parse(m.started_at), evidence: m.evidence, verdict: m.verdict, vantage: { probe_id: r.probe_id, asn: r.asn, cc: r.cc } };
}

/** The archived record of a control measurement (the vantage's network, no probe's). */
export function controlRecord(m: Measurement, clock: Clock, vantage: { asn: number | null; cc: string | null }): ArchivedRecord {
  return { received_at: new Date(clock.now()).toISOString(), probe_id: CONTROL_PROBE_ID, asn: vantage.asn, cc: vantage.cc, network: 'control', measurement: m };
}

export class ControlProber {
  readonly #o: ControlProberOptions;
  #timer: unknown = null;
  #running: Promise<void> | null = null;
  #stop = new AbortController();
  #stopped = false;
  readonly status: ControlStatus = { runs: 0, failures: 0, lastRunAt: null, lastError: null };
  #surgeTimer: unknown = null;
  /** When the surged targets were last measured (by a surge run, or a scheduled run of every target). */
  #surgedAt = -Infinity;
  /** Runs made for a surge since start. */
  surgeRuns = 0;
  /** When each target was last measured on request (a probe's new failure), for the rate limit. */
  readonly #requested = new Map<string, number>();
  #asked: Promise<void> = Promise.resolve();

  constructor(options: ControlProberOptions) {
    this.#o = options;
  }

  /** The first run at once, then one every interval; a surge looked for every minute. */
  start(): void {
    this.#schedule(0);
    if (this.#o.surge !== undefined) this.#scheduleSurge();
  }

  #scheduleSurge(): void {
    if (this.#stopped) return;
    this.#surgeTimer = this.#o.timers.setTimeout(() => {
      this.#surgeTimer = null;
      void this.surgeTick().finally(() => this.#scheduleSurge());
    }, CONTROL_SURGE_TICK_MS);
  }

  /**
   * While a surge asks for its targets more often than the schedule measures them, measure them
   * (with the canaries) every `interval_minutes` of the surge, so that probes' surged measurements
   * have controls of their time. Returns whether a run was queued; never throws.
   */
  async surgeTick(): Promise<boolean> {
    if (this.#stopped || this.#o.surge === undefined) return false;
    let surge: SurgeAnswer | null;
    try {
      surge = await this.#o.surge();
    } catch (err) {
      this.#o.log.warn(`control: reading the surge failed: ${(err as Error).message}`);
      return false;
    }
    const now = this.#o.deps.clock.now();
    if (surge === null || now >= Date.parse(surge.until) || surge.interval_minutes >= this.#o.intervalMinutes) return false;
    if (now - this.#surgedAt < surge.interval_minutes * 60_000) return false;
    const list = this.#o.targets();
    const surged = list.filter((t) => t.category !== 'canary' && surge.targets.includes(t.id));
    if (surged.length === 0) return false;
    this.#surgedAt = now;
    this.surgeRuns++;
    this.#asked = this.#asked.then(() => this.runOnce([...surged, ...list.filter((t) => t.category === 'canary')]));
    return true;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#o.timers.setTimeout(() => {
      this.#timer = null;
      this.#surgedAt = this.#o.deps.clock.now();
      this.#running = this.runOnce().finally(() => {
        this.#running = null;
        this.#schedule(this.#o.intervalMinutes * 60_000);
      });
    }, ms);
  }

  /**
   * A probe reported a new failure on `targetId`: measure it (with the canaries, which tell the
   * control's own line apart) soon, unless it was measured on request within CONTROL_REQUEST_EVERY_MS.
   * Requests run one after another, apart from the schedule. Returns whether a run was queued.
   */
  request(targetId: string): boolean {
    if (this.#stopped) return false;
    const now = this.#o.deps.clock.now();
    const last = this.#requested.get(targetId);
    if (last !== undefined && now - last < CONTROL_REQUEST_EVERY_MS) return false;
    const list = this.#o.targets();
    const target = list.find((t) => t.id === targetId);
    if (target === undefined || target.category === 'canary') return false;
    this.#requested.set(targetId, now);
    const canaries = list.filter((t) => t.category === 'canary');
    this.#asked = this.#asked.then(() => this.runOnce([target, ...canaries]));
    return true;
  }

  /** Requested runs still queued or in flight (tests). */
  settled(): Promise<void> {
    return this.#asked;
  }

  /** Measure every target (or `only`) once; a failed run is counted and logged, never thrown. */
  async runOnce(only?: readonly Target[]): Promise<void> {
    const targets = [...(only ?? this.#o.targets())];
    if (targets.length === 0) return;
    const { deps } = this.#o;
    try {
      const measurements = await runTargets(targets, this.#o.engine(this.#stop.signal), deps);
      const records = measurements.map((m) => controlRecord(m, deps.clock, this.#o.vantage));
      await this.#o.archive(records);
      for (const r of records) this.#o.index.add(controlRefOf(r));
      this.status.runs++;
      this.status.lastRunAt = deps.clock.now();
      this.status.lastError = null;
      this.#o.onRun?.(measurements);
      const offline = measurements.every((m) => m.verdict.verdict === 'offline');
      if (offline) this.#o.log.warn(`control: every target offline from the control vantage: its own line is down; nothing is judged with this run`);
      else this.#o.log.info(`control: measured ${measurements.length} targets`);
    } catch (err) {
      if (this.#stopped) return;
      this.status.failures++;
      this.status.lastError = (err as Error).message;
      this.#o.log.warn(`control: the run failed: ${(err as Error).message}`);
    }
  }

  /** Stop the schedule and end a run in flight (its sockets closed). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#o.timers.clearTimeout(this.#timer);
    if (this.#surgeTimer !== null) this.#o.timers.clearTimeout(this.#surgeTimer);
    this.#stop.abort(new Error('the collector is stopping'));
    await this.#running?.catch(() => {});
    await this.#asked.catch(() => {});
  }
}
