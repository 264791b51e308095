// The whole control archive as reindex reads it: controls found by the day they were measured, loaded a few days at a time.
import type { ArchiveReader } from '../storage/archive.js';
import { utcDay } from '../storage/archive.js';
import { ControlIndex, type ControlRef } from './nearest.js';
import { controlRefOf } from './prober.js';

const DAY_MS = 86_400_000;

/** Days of controls kept in memory at once (a measurement needs at most three: the window is at most a day). */
const KEEP_DAYS = 6;

/**
 * The nearest usable control of any time the control archive covers. One pass at open notes, for
 * each day controls were measured on, which segments hold them (a control probe's spool can arrive
 * days late); a day's controls are read when a measurement first needs them, and the least recently
 * used days are forgotten, so that a year of controls never sits in memory at once.
 */
export class ControlHistory {
  /** Measured day → the archive segments (days received) holding its controls. */
  readonly #segmentsByDay: Map<string, Set<string>>;
  /** Loaded days, least recently used first. */
  readonly #loaded = new Map<string, ControlIndex>();
  /** Control measurements the archive holds. */
  readonly size: number;

  private constructor(
    private readonly archive: ArchiveReader,
    readonly windowMs: number,
    segmentsByDay: Map<string, Set<string>>,
    size: number,
  ) {
    this.#segmentsByDay = segmentsByDay;
    this.size = size;
  }

  static async open(archive: ArchiveReader, windowMs: number): Promise<ControlHistory> {
    const segmentsByDay = new Map<string, Set<string>>();
    let size = 0;
    for await (const { record, next } of archive.read()) {
      const day = utcDay(Date.parse(record.measurement.started_at));
      let segments = segmentsByDay.get(day);
      if (segments === undefined) segmentsByDay.set(day, (segments = new Set()));
      segments.add(next.segment);
      size++;
    }
    return new ControlHistory(archive, windowMs, segmentsByDay, size);
  }

  /** As ControlIndex.nearest, over the whole archive: the usable control nearest to `at` within the window, or null. */
  async nearest(target: string, at: number): Promise<ControlRef | null> {
    if (this.size === 0 || !Number.isFinite(at)) return null;
    let best: ControlRef | null = null;
    for (let day = utcDay(at - this.windowMs); day <= utcDay(at + this.windowMs); day = utcDay(Date.parse(`${day}T00:00:00Z`) + DAY_MS)) {
      const index = await this.day(day);
      const c = index?.nearest(target, at) ?? null;
      if (c === null) continue;
      const d = Math.abs(c.at - at);
      const b = best === null ? Infinity : Math.abs(best.at - at);
      // The earlier one on a tie, as the index does (days are visited in time order).
      if (d < b) best = c;
    }
    return best;
  }

  private async day(day: string): Promise<ControlIndex | null> {
    const cached = this.#loaded.get(day);
    if (cached !== undefined) {
      this.#loaded.delete(day);
      this.#loaded.set(day, cached);
      return cached;
    }
    const segments = this.#segmentsByDay.get(day);
    if (segments === undefined) return null;
    const index = new ControlIndex(this.windowMs);
    for (const segment of [...segments].sort()) {
      for await (const { record, next } of this.archive.read({ segment, offset: 0 })) {
        if (next.segment !== segment) break;
        if (utcDay(Date.parse(record.measurement.started_at)) === day) index.add(controlRefOf(record));
      }
    }
    this.#loaded.set(day, index);
    while (this.#loaded.size > KEEP_DAYS) this.#loaded.delete(this.#loaded.keys().next().value!);
    return index;
  }
}
