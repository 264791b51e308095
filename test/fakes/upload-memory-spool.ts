// An in-memory spool with the upload side of the Spool interface, for uploader tests: counts, acks and a count cap with drop-oldest.
import type { SpoolOverflow } from '../../probe/upload/client.js';
import type { UploadSpool } from '../../probe/upload/uploader.js';
import type { Measurement } from '../../contract/measurement.js';

export class MemorySpool implements UploadSpool {
  private readonly items: Measurement[] = [];
  private unreported: SpoolOverflow | null = null;
  /** Every id acked, in order (an id acked twice appears twice). */
  readonly acked: string[] = [];
  /** How many pending() calls were made. */
  pendingCalls = 0;
  /** Drop counts confirmed as reported. */
  readonly confirmed: number[] = [];
  /** When set, the next pending() rejects with it (once). */
  failNext: Error | null = null;

  constructor(private readonly capCount = Number.POSITIVE_INFINITY) {}

  /** Add measurements; past the cap the oldest are dropped and counted as overflow at time `at`. */
  add(ms: Measurement[], at = new Date().toISOString()): void {
    for (const m of ms) {
      this.items.push(m);
      while (this.items.length > this.capCount) {
        this.items.shift();
        this.unreported = this.unreported
          ? { ...this.unreported, dropped: this.unreported.dropped + 1, lastDroppedAt: at }
          : { dropped: 1, firstDroppedAt: at, lastDroppedAt: at };
      }
    }
  }

  get size(): number {
    return this.items.length;
  }

  ids(): string[] {
    return this.items.map((m) => m.id);
  }

  async pending(limit: number): Promise<Measurement[]> {
    this.pendingCalls++;
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = null;
      throw err;
    }
    return this.items.slice(0, limit);
  }

  async ack(ids: string[]): Promise<void> {
    this.acked.push(...ids);
    const gone = new Set(ids);
    for (let i = this.items.length - 1; i >= 0; i--) if (gone.has(this.items[i]!.id)) this.items.splice(i, 1);
  }

  takeOverflow(): SpoolOverflow | null {
    return this.unreported ? { ...this.unreported } : null;
  }

  async confirmOverflowReported(dropped: number): Promise<void> {
    this.confirmed.push(dropped);
    if (this.unreported === null) return;
    const left = this.unreported.dropped - dropped;
    this.unreported = left > 0 ? { ...this.unreported, dropped: left } : null;
  }
}
