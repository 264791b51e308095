// Runs async tasks one at a time, in call order; a task that fails does not stop the ones after it.

export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /** Queue `task` behind every task queued before it; resolves or rejects with its own outcome. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has finished (whatever its outcome). */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined);
  }
}
