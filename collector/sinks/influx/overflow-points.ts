// Probes' spool-overflow reports as InfluxDB `spool_overflow` points (fleet health), written in the background with retries.
import type { Clock } from '../../../common/clock.js';
import { Sleeps } from '../../../common/sleeps.js';
import type { SpoolOverflowReport } from '../../../contract/wire.js';
import { retryDelay } from './backoff.js';
import { Delivery, type DeliveryLogger } from './delivery.js';
import { integerField, line, pointTimestamp, quoteString } from './line.js';
import type { LineWriter } from './writer.js';
import { InvalidArgumentError } from '../../../common/errors.js';

export const SPOOL_OVERFLOW = 'spool_overflow';

/** One kept report: the probe, the network its batch came from, and the largest count the collector holds for it. */
export interface SpoolOverflowPoint {
  probe_id: string;
  asn: number | null;
  cc: string | null;
  report: SpoolOverflowReport;
}

/**
 * `spool_overflow` point: tags asn and cc (the network of the batch that carried the report,
 * "unknown" when the batch had no measurement); fields dropped (the largest count reported for this
 * overflow), probe (string), last_dropped_at (string, ISO). Time: first_dropped_at in ns with a
 * tiebreak from probe and first_dropped_at, so a report resent or grown later overwrites its point,
 * as the store keeps one row per (probe, first_dropped_at).
 */
export function spoolOverflowLine(p: SpoolOverflowPoint): string {
  const first = Date.parse(p.report.first_dropped_at);
  if (Number.isNaN(first)) throw new InvalidArgumentError(`spool overflow: first_dropped_at is not a time: ${p.report.first_dropped_at}`);
  return line(
    SPOOL_OVERFLOW,
    [
      ['asn', p.asn === null ? 'unknown' : String(p.asn)],
      ['cc', p.cc ?? 'unknown'],
    ],
    [
      ['dropped', integerField(p.report.dropped)],
      ['probe', quoteString(p.probe_id)],
      ['last_dropped_at', quoteString(p.report.last_dropped_at)],
    ],
    pointTimestamp(first, `${p.probe_id}/${p.report.first_dropped_at}`),
  );
}

export interface SpoolOverflowPointsOptions {
  writer: LineWriter;
  clock: Clock;
  logger: DeliveryLogger;
  /** How often noted reports are written. Default 10 s. */
  flushEveryMs?: number;
}

/**
 * Collects reports as ingest keeps them and writes them in the background, retrying with backoff
 * while InfluxDB fails. A report is forgotten once InfluxDB acknowledged it; what is pending when
 * the process stops is not written (the store keeps every report, and the collector's metrics count them).
 */
export class SpoolOverflowPoints {
  private pending = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private flushing: Promise<void> | null = null;
  private readonly delivery: Delivery;
  private readonly sleeps = new Sleeps();

  constructor(private readonly o: SpoolOverflowPointsOptions) {
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

  /** Reports waiting to be written. */
  backlog(): number {
    return this.pending.size;
  }

  /** A report as the store now holds it: written at the next flush (a later note of the same overflow replaces it). */
  note(point: SpoolOverflowPoint): void {
    try {
      this.pending.set(`${point.probe_id}\u0000${point.report.first_dropped_at}`, spoolOverflowLine(point));
    } catch (err) {
      this.o.logger.error(`spool overflow report of ${point.probe_id} has no point, skipped: ${(err as Error).message}`);
    }
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

  private async writePending(): Promise<void> {
    while (this.running && this.pending.size > 0) {
      const taken = [...this.pending];
      this.pending.clear();
      const delivered = await this.delivery.deliver(taken.map(([, l]) => l));
      if (!delivered) {
        // Keep a newer note of the same overflow over the one that failed.
        for (const [k, l] of taken) if (!this.pending.has(k)) this.pending.set(k, l);
        return;
      }
    }
  }
}
