// Timers and a clock for a daemon under test that move only when the test moves them, while real sockets (a loopback collector) keep working.
import type { Clock } from '../../common/clock.js';
import type { Timers } from '../../probe/daemon/scheduler.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** One turn of the real event loop: I/O callbacks and the promise chains they start run. */
export function realTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class ManualTimers implements Timers, Clock {
  #now: number;
  #seq = 0;
  readonly #pending = new Map<number, Pending>();

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#pending.set(id, { at: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: id, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#pending.delete(handle as number);
  }

  /** Timers armed and not yet fired. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Move the time forward by `ms`: each timer due on the way fires at its time, in order, with a
   * turn of the real event loop after it (and one at the end).
   */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, Pending] | null = null;
      for (const entry of this.#pending) {
        if (entry[1].at > end) continue;
        if (next === null || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq)) next = entry;
      }
      if (next === null) break;
      this.#pending.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].fn();
      await realTurn();
    }
    this.#now = end;
    await realTurn();
  }

  /**
   * Until `check` holds: the time moves in `stepMs` steps, each followed by `realMs` of real time
   * for the sockets and the disk (so a request or an fsync in flight costs a few steps, not hours of
   * fake time); fails after `realTimeoutMs` of real time.
   */
  async until(what: string, check: () => boolean | Promise<boolean>, o: { stepMs?: number; realMs?: number; realTimeoutMs?: number } = {}): Promise<void> {
    const giveUp = Date.now() + (o.realTimeoutMs ?? 20_000);
    while (!(await check())) {
      if (Date.now() > giveUp) throw new Error(`timed out waiting for ${what} (fake time ${new Date(this.#now).toISOString()})`);
      await this.advance(o.stepMs ?? 200);
      await new Promise((resolve) => setTimeout(resolve, o.realMs ?? 2));
    }
  }
}
