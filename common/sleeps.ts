// Waits that a stop cuts short: every pending sleep resolves at once when `wakeAll` is called.

export class Sleeps {
  private readonly waiting = new Set<() => void>();

  /** Resolves after `ms`, or as soon as wakeAll() is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiting.add(done);
    });
  }

  wakeAll(): void {
    for (const done of [...this.waiting]) done();
  }
}
