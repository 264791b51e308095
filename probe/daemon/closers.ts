// What the daemon closes when it stops (the state lock, the spool, the collector client …): last opened, first closed.
import { errorText, type Log } from './log.js';

export class Closers {
  readonly #log: Log;
  readonly #list: Array<() => Promise<void>> = [];

  constructor(log: Log) {
    this.#log = log;
  }

  push(close: () => Promise<void>): void {
    this.#list.push(close);
  }

  /** Close everything pushed so far, in reverse order; a failure is logged and the rest still closed. */
  async closeAll(): Promise<void> {
    const list = this.#list.splice(0).reverse();
    for (const close of list) await close().catch((err: unknown) => this.#log('error', `stopping: ${errorText(err)}`));
  }
}
