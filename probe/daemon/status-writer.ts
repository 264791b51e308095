// Writes the daemon's status file: after runs, uploads and polls (serialised, coalesced), and at an interval when something changed.
import path from 'node:path';
import { SerialQueue } from '../../common/serial-queue.js';
import { errorText, type Log } from './log.js';
import type { Timers } from './scheduler.js';
import { STATUS_FILE, writeStatus, type DaemonStatus } from './status.js';

export class StatusWriter {
  readonly #stateDir: string;
  readonly #log: Log;
  readonly #writes = new SerialQueue();
  #snapshot: (() => DaemonStatus) | null = null;
  #queued = false;
  #lastWritten = '';
  #timer: { timers: Timers; handle: unknown } | null = null;

  constructor(stateDir: string, log: Log) {
    this.#stateDir = stateDir;
    this.#log = log;
  }

  /** Start writing what `snapshot` gives (nothing is written before: start-up is not done). */
  begin(snapshot: () => DaemonStatus): void {
    this.#snapshot = snapshot;
  }

  /** Write the status soon; a write already queued covers this one. */
  update(): void {
    if (this.#queued || this.#snapshot === null) return;
    this.#queued = true;
    void this.#writes.run(async () => {
      this.#queued = false;
      if (this.#snapshot === null) return;
      const st = this.#snapshot();
      this.#lastWritten = comparable(st);
      try {
        await writeStatus(this.#stateDir, st);
      } catch (err) {
        this.#log('warn', `status: cannot write ${path.join(this.#stateDir, STATUS_FILE)}: ${errorText(err)}`);
      }
    });
  }

  /** Write when something changed since the last write. */
  refresh(): void {
    if (this.#snapshot !== null && comparable(this.#snapshot()) !== this.#lastWritten) this.update();
  }

  /** Refresh every `everyMs` until stopRefreshing. */
  refreshEvery(timers: Timers, everyMs: number): void {
    this.#timer = {
      timers,
      handle: timers.setTimeout(() => {
        this.refresh();
        this.refreshEvery(timers, everyMs);
      }, everyMs),
    };
  }

  stopRefreshing(): void {
    if (this.#timer !== null) this.#timer.timers.clearTimeout(this.#timer.handle);
  }

  /** Resolves once every queued write is done. */
  flush(): Promise<void> {
    return this.#writes.idle();
  }
}

/** A status without its time, to tell whether anything changed. */
function comparable(st: DaemonStatus): string {
  return JSON.stringify({ ...st, updated_at: null });
}
