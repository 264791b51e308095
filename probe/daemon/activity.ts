// What the daemon has done since it started, as its status file reports it: runs, measurements taken, the last run and error, its state.
import type { Clock } from '../../common/clock.js';
import type { DaemonStatus, LastRun } from './status.js';

export class Activity {
  runs = 0;
  /** Measurements written to the spool (interception records included). */
  taken = 0;
  lastRun: LastRun | null = null;
  lastError: DaemonStatus['last_error'] = null;
  state: DaemonStatus['state'] = 'running';
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Note `message` as the last error, at the clock's time. */
  fail(message: string): void {
    this.lastError = { at: new Date(this.#clock.now()).toISOString(), message };
  }
}
