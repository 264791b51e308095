// The daemon's data use this month (bytes its runs sent and received), kept in the state directory, and what the volunteer's monthly budget allows of the next run.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { replaceFile } from '../../common/durable.js';

const FILE = 'data-use.json';

/** What the budget allows of the next run: all of it, all but the bulk reads, or nothing. */
export type RunAllowance = 'full' | 'no-bulk' | 'skip';

export interface DataUseStatus {
  /** The calendar month counted (UTC), YYYY-MM. */
  month: string;
  bytes: number;
  /** The monthly budget in bytes, null when none is set. */
  budget_bytes: number | null;
}

function monthOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

/** The share of the UTC month `ms` falls in that has passed, in [0, 1). */
export function monthElapsed(ms: number): number {
  const d = new Date(ms);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return (ms - start) / (end - start);
}

export class DataUse {
  private constructor(
    private readonly dir: string,
    private month: string,
    private used: number,
    /** The monthly budget in bytes; 0 = none. */
    readonly budgetBytes: number,
  ) {}

  /** The counts kept in `dir` (none yet, or unreadable: this month starts at 0). */
  static async open(dir: string, budgetMb: number, now: number): Promise<DataUse> {
    let month = monthOf(now);
    let used = 0;
    try {
      const kept = JSON.parse(await readFile(path.join(dir, FILE), 'utf8')) as { month?: unknown; bytes?: unknown };
      if (typeof kept.month === 'string' && /^\d{4}-\d{2}$/.test(kept.month) && typeof kept.bytes === 'number' && Number.isSafeInteger(kept.bytes) && kept.bytes >= 0) {
        month = kept.month;
        used = kept.bytes;
      }
    } catch {
      // No file yet, or a damaged one: counted from 0.
    }
    return new DataUse(dir, month, used, budgetMb * 1_000_000);
  }

  /** Bytes used in the month of `now`. */
  bytes(now: number): number {
    return monthOf(now) === this.month ? this.used : 0;
  }

  /** Count a run's bytes and keep the count. */
  async add(bytes: number, now: number): Promise<void> {
    const month = monthOf(now);
    if (month !== this.month) {
      this.month = month;
      this.used = 0;
    }
    this.used += Math.max(0, Math.round(bytes));
    await replaceFile(this.dir, FILE, Buffer.from(`${JSON.stringify({ month: this.month, bytes: this.used })}\n`, 'utf8'));
  }

  /**
   * Within budget: everything. Ahead of an even pace through the month (used ≥ budget × the share of
   * the month passed): no bulk reads, which are most of a run's bytes. Budget spent: no runs until the
   * month ends.
   */
  allowance(now: number): RunAllowance {
    if (this.budgetBytes === 0) return 'full';
    const used = this.bytes(now);
    if (used >= this.budgetBytes) return 'skip';
    return used >= this.budgetBytes * monthElapsed(now) ? 'no-bulk' : 'full';
  }

  status(now: number): DataUseStatus {
    return { month: monthOf(now), bytes: this.bytes(now), budget_bytes: this.budgetBytes === 0 ? null : this.budgetBytes };
  }
}
