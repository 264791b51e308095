// Concurrency limits for one run: a global p-queue plus one small queue per remote host.
import PQueue from 'p-queue';

export class RunLimits {
  readonly #global: PQueue;
  readonly #perHost = new Map<string, PQueue>();
  readonly #perHostConcurrency: number;

  constructor(concurrency: number, perHostConcurrency: number) {
    this.#global = new PQueue({ concurrency });
    this.#perHostConcurrency = perHostConcurrency;
  }

  /** Run `task` once both a global slot and a slot for `host` are free (host null: global only). */
  run<T>(host: string | null, task: () => Promise<T>): Promise<T> {
    if (host === null) return this.#global.add(task);
    let queue = this.#perHost.get(host);
    if (!queue) {
      queue = new PQueue({ concurrency: this.#perHostConcurrency });
      this.#perHost.set(host, queue);
    }
    const global = this.#global;
    return queue.add(() => global.add(task));
  }

  /** Drop everything not yet started (used on abort). */
  clear(): void {
    this.#global.clear();
    for (const q of this.#perHost.values()) q.clear();
  }
}
