// A level-triggered wake-up for one waiting loop: a signal given while nobody waits is kept for the next wait.

export class Wakeup {
  private pending = false;
  private waiter: (() => void) | null = null;

  /** Wake the waiter now, or the next `wait` at once. */
  signal(): void {
    this.pending = true;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  /** Resolves on a signal (true) or after `ms` (false); consumes the signal. One waiter at a time. */
  wait(ms: number): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (this.waiter === done) this.waiter = null;
        resolve(false);
      }, Math.max(0, ms));
      const done = () => {
        clearTimeout(timer);
        this.pending = false;
        resolve(true);
      };
      this.waiter = done;
    });
  }
}
