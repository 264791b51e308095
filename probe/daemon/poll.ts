// The daemon's collector poll: the target list (with surges) and the network, asked at a jittered interval; then the scheduler looks again.
import type { Activity } from './activity.js';
import type { Location } from './location.js';
import { errorText, type Log } from './log.js';
import type { Schedule } from './schedule.js';
import type { Scheduler, Timers } from './scheduler.js';
import type { StatusWriter } from './status-writer.js';
import type { TargetSource } from './targets.js';

export interface CollectorPollOptions {
  /** Whether there is a collector to ask (no poll without one). */
  enabled: boolean;
  targets: TargetSource;
  location: Location;
  schedule: Schedule;
  scheduler: Scheduler;
  timers: Timers;
  /** Uniform in [0, 1): each wait is everyMs ±10 %. */
  random: () => number;
  everyMs: number;
  log: Log;
  activity: Activity;
  status: StatusWriter;
  /** The daemon's stop: no poll is armed once it aborted. */
  signal: AbortSignal;
}

export class CollectorPoll {
  readonly #o: CollectorPollOptions;
  #timer: unknown = null;
  #halted = false;

  constructor(options: CollectorPollOptions) {
    this.#o = options;
  }

  /** Arm the next poll (each poll arms the one after it). */
  start(): void {
    const { enabled, signal, timers, everyMs, random } = this.#o;
    if (!enabled || signal.aborted || this.#halted) return;
    this.#timer = timers.setTimeout(() => {
      void this.#poll().finally(() => this.start());
    }, everyMs * (0.9 + 0.2 * random()));
  }

  /** Cancel the armed poll (one in flight finishes and arms no other once the signal aborted). */
  stop(): void {
    if (this.#timer !== null) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Ask the collector no more (it revoked this probe): the armed poll is cancelled, one in flight arms no other. */
  halt(): void {
    this.#halted = true;
    this.stop();
  }

  async #poll(): Promise<void> {
    const { targets, schedule, location, scheduler, activity, log, status } = this.#o;
    try {
      const outcome = await targets.refresh();
      if (outcome === 'changed') schedule.setTargets(targets.targets());
      if (outcome === 'changed' || outcome === 'unchanged') schedule.applySurge(targets.surge());
      await location.refresh();
      scheduler.wake();
    } catch (err) {
      activity.fail(`asking the collector for targets and network failed: ${errorText(err)}`);
      log('error', activity.lastError?.message ?? errorText(err));
    }
    status.update();
  }
}
