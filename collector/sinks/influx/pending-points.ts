// Points noted by the collector (spool overflows, control runs) and written to InfluxDB in the background, with retries.
import type { Clock } from '../../../common/clock.js';
import { Sleeps } from '../../../common/sleeps.js';
import { retryDelay } from './backoff.js';
import { Delivery, type DeliveryLogger } from './delivery.js';
import type { LineWriter } from './writer.js';

export interface PendingPointsOptions {
  writer: LineWriter;
  clock: Clock;
  logger: DeliveryLogger;
  /** How often noted points are written. Default 10 s. */
  flushEveryMs?: number;
}

/**
 * The lifecycle of points written in the background: a flush every `flushEveryMs`, one at a time,
 * retried with backoff while InfluxDB fails (`deliver`); what each kind keeps pending, and how it
 * turns into lines, is its own (`writePending`).
 */
export abstract class BackgroundPoints {
  private timer: NodeJS.Timeout | null = null;
  protected running = false;
  private flushing: Promise<void> | null = null;
  private readonly delivery: Delivery;
  private readonly sleeps = new Sleeps();

  constructor(protected readonly o: PendingPointsOptions) {
    this.delivery = new Delivery({
      writer: o.writer,
      clock: o.clock,
      logger: o.logger,
      delay: (attempt) => retryDelay(attempt, { initialMs: 250, maxMs: 30_000, factor: 2, random: Math.random }),
      maxRetryDelayMs: 30_000,
      running: () => this.running,
      sleep: (ms) => this.sleeps.sleep(ms),
      onRecovered: () => undefined,
    });
  }

  /** Points (or keys of points) waiting to be written. */
  abstract backlog(): number;

  /** Write what is pending; return once written, or when a write failed for good or the writer stopped. */
  protected abstract writePending(): Promise<void>;

  /** Lines to InfluxDB, retried while it fails; false when the writer stopped first. */
  protected deliver(lines: string[]): Promise<boolean> {
    return this.delivery.deliver(lines);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.timer = setInterval(() => void this.flush(), this.o.flushEveryMs ?? 10_000);
    this.timer.unref();
  }

  /** Write what is pending (one flush at a time); resolves once InfluxDB took it, or the writer stopped. */
  flush(): Promise<void> {
    this.flushing ??= this.writePending().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.running = false;
    this.sleeps.wakeAll();
    await this.flushing;
    this.o.writer.close?.();
  }
}

/**
 * Lines noted by key (a later line of the same key replaces one not yet written), written at each
 * flush, forgotten once InfluxDB acknowledged them. What is pending when the process stops is not
 * written.
 */
export class PendingPoints extends BackgroundPoints {
  private pending = new Map<string, string>();

  backlog(): number {
    return this.pending.size;
  }

  protected put(key: string, line: string): void {
    this.pending.set(key, line);
  }

  protected async writePending(): Promise<void> {
    while (this.running && this.pending.size > 0) {
      const taken = [...this.pending];
      this.pending.clear();
      const delivered = await this.deliver(taken.map(([, l]) => l));
      if (!delivered) {
        // Keep a newer note of the same key over the one that failed.
        for (const [k, l] of taken) if (!this.pending.has(k)) this.pending.set(k, l);
        return;
      }
    }
  }
}
