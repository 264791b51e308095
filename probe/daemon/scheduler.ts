// Drives a Schedule with injected timers: one run at a time, a deadline per run, a bounded stop.
import type { Clock } from '../../common/clock.js';
import { DaemonStoppingError, RunDeadlineError } from '../errors.js';
import type { Target } from '../../contract/target.js';
import type { PlannedRun, Schedule } from './schedule.js';

/** The timer functions the scheduler uses (the global ones by default, fake ones in tests). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface SchedulerOptions {
  schedule: Schedule;
  clock: Clock;
  timers?: Timers;
  /** The work of one run; rejects when aborted through `signal`. */
  run: (targets: Target[], signal: AbortSignal, planned: PlannedRun) => Promise<void>;
  /** A run still going after this long is aborted. */
  runDeadlineMs: number;
  /** The scheduler wakes at least this often to look at the wall clock (suspend, clock changes). */
  maxSleepMs?: number;
  /** A run that rejected (after an abort, or a fault). */
  onRunError?: (err: unknown, planned: PlannedRun) => void;
}

export class Scheduler {
  readonly #o: SchedulerOptions & { timers: Timers; maxSleepMs: number };
  #timer: unknown = null;
  #stopped = true;
  /** halt(): no run starts again (the daemon idles; stop() still ends it). */
  #halted = false;
  #current: { planned: PlannedRun; controller: AbortController; done: Promise<void> } | null = null;

  constructor(options: SchedulerOptions) {
    this.#o = { timers: systemTimers, maxSleepMs: 60_000, ...options };
  }

  start(): void {
    if (!this.#stopped || this.#halted) return;
    this.#stopped = false;
    this.#arm();
  }

  /** Look again at the schedule now (after a new target list or a surge). */
  wake(): void {
    if (!this.#stopped && this.#current === null) this.#arm(0);
  }

  /** Start no run from now on; a run in flight finishes as usual (stop() still bounds it). */
  halt(): void {
    this.#halted = true;
    if (this.#timer !== null) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Whether halt() was called. */
  get halted(): boolean {
    return this.#halted;
  }

  /** The run in flight, if any. */
  current(): PlannedRun | null {
    return this.#current?.planned ?? null;
  }

  #arm(delay?: number): void {
    const { timers, clock, schedule, maxSleepMs } = this.#o;
    if (this.#timer !== null) timers.clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#stopped || this.#halted || this.#current !== null) return;
    const next = schedule.nextDueAt();
    const wait = delay ?? (next === null ? maxSleepMs : Math.min(Math.max(0, next - clock.now()), maxSleepMs));
    this.#timer = timers.setTimeout(() => this.#tick(), wait);
  }

  #tick(): void {
    this.#timer = null;
    if (this.#stopped || this.#halted || this.#current !== null) return;
    const planned = this.#o.schedule.takeDue();
    if (planned === null) {
      this.#arm();
      return;
    }
    const { timers, runDeadlineMs } = this.#o;
    const controller = new AbortController();
    const deadline = timers.setTimeout(() => controller.abort(new RunDeadlineError(runDeadlineMs)), runDeadlineMs);
    const done = (async () => {
      try {
        await this.#o.run(planned.targets, controller.signal, planned);
      } catch (err) {
        this.#o.onRunError?.(err, planned);
      } finally {
        timers.clearTimeout(deadline);
        this.#o.schedule.finish(planned);
        this.#current = null;
        this.#arm();
      }
    })();
    this.#current = { planned, controller, done };
  }

  /**
   * Start no new run; let the run in flight finish for up to `graceMs`, then abort it and wait for it
   * to settle (the engine closes its sockets before rejecting).
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    const { timers } = this.#o;
    if (this.#timer !== null) timers.clearTimeout(this.#timer);
    this.#timer = null;
    const current = this.#current;
    if (current === null) return;
    let graceTimer: unknown = null;
    const graceOver = new Promise<'grace'>((resolve) => {
      graceTimer = timers.setTimeout(() => resolve('grace'), graceMs);
    });
    const outcome = await Promise.race([current.done.then(() => 'done' as const), graceOver]);
    timers.clearTimeout(graceTimer);
    if (outcome === 'grace') {
      current.controller.abort(new DaemonStoppingError());
      await current.done;
    }
  }
}
