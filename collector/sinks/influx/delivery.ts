// Delivering one batch of lines to InfluxDB: retried through outages with backoff, a refused line isolated by halving and skipped.
import type { Clock } from '../../../common/clock.js';
import type { LineWriter, WriteOutcome } from './writer.js';

export interface DeliveryLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface DeliveryOptions {
  writer: LineWriter;
  clock: Clock;
  logger: DeliveryLogger;
  /** The wait before retry number `attempt` (1, 2, …). */
  delay(attempt: number): number;
  maxRetryDelayMs: number;
  /** Whether the sink still runs: a stopped sink gives up (its records stay in the archive). */
  running(): boolean;
  /** A wait that stopping the sink cuts short. */
  sleep(ms: number): Promise<void>;
  /** Writes work again after a run of failures. */
  onRecovered(): void;
}

/**
 * The state of writing to the server: how many lines it refused as data, failed attempts, the last
 * error and since when writes fail. Lines the server refuses as data (400-class answers) are
 * isolated by splitting the batch, logged and skipped, so that one bad point cannot stall the sink;
 * 401/403/404 (wrong token, org or bucket) are retried like an outage, because an operator can fix
 * them and nothing must be lost meanwhile.
 */
export class Delivery {
  rejected = 0;
  failedAttempts = 0;
  /** The last failure, or null once a write succeeded after it. */
  lastError: string | null = null;
  /** Wall time (clock.now) when the current run of failures began, or null. */
  failingSince: number | null = null;

  constructor(private readonly o: DeliveryOptions) {}

  /** Write `lines` until the server acknowledged them (refused lines skipped); false when stopped first. */
  async deliver(lines: string[]): Promise<boolean> {
    if (lines.length === 0) return true;
    const outcome = await this.writeRetrying(lines);
    if (outcome === 'stopped') return false;
    if (outcome.ok) return true;
    if (lines.length === 1) {
      this.rejected++;
      this.o.logger.error(`the server refused a point, skipped (it stays in the archive): ${outcome.message}: ${lines[0]!.slice(0, 300)}`);
      return true;
    }
    const half = Math.ceil(lines.length / 2);
    return (await this.deliver(lines.slice(0, half))) && (await this.deliver(lines.slice(half)));
  }

  /** One batch, retried through outages; resolves with success, a data rejection, or 'stopped'. */
  private async writeRetrying(lines: string[]): Promise<WriteOutcome | 'stopped'> {
    const { writer, clock, logger } = this.o;
    let attempt = 0;
    for (;;) {
      const outcome = await writer.write(lines);
      if (outcome.ok || outcome.kind === 'rejected') {
        if (this.failingSince !== null) {
          logger.info(`InfluxDB writes work again after ${Math.round((clock.now() - this.failingSince) / 1000)} s`);
          this.failingSince = null;
          this.o.onRecovered();
        }
        this.lastError = outcome.ok ? null : outcome.message;
        return outcome;
      }
      attempt++;
      this.failedAttempts++;
      this.lastError = outcome.message;
      if (this.failingSince === null) {
        this.failingSince = clock.now();
        const log = outcome.status !== null && outcome.status < 500 && outcome.status !== 429 ? logger.error : logger.warn;
        log.call(logger, `InfluxDB write failed, retrying with backoff (records stay in the archive): ${outcome.message}`);
      }
      if (!this.o.running()) return 'stopped';
      const wait = Math.max(this.o.delay(attempt), Math.min(outcome.retryAfterMs ?? 0, this.o.maxRetryDelayMs));
      await this.o.sleep(wait);
      if (!this.o.running()) return 'stopped';
    }
  }
}
