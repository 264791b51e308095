// Phase 1 of the report: read one month of the collector's store (hourly sums of the 10-minute aggregates, the measurement index when present) and its events.
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Verdict } from '../../contract/verdict.js';
import type { BlockingEvent, ChronicBlock, Incident } from '../events/types.js';
import { EventStore } from '../storage/event-store.js';
import type { ReportPeriod } from './period.js';
import { readIndexData, type IndexData } from './index-data.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** One hour of one target on one network with one verdict. */
export interface HourRow {
  /** Start of the hour, epoch ms. */
  hour: number;
  target: string;
  /** null: unknown network. */
  asn: number | null;
  verdict: Verdict;
  count: number;
  blocked: number;
}

export interface ReportData {
  period: ReportPeriod;
  /** When the report was made (the injected clock). */
  generatedAt: number;
  hours: HourRow[];
  /** Events overlapping the month (not retracted), in start order. */
  events: BlockingEvent[];
  incidents: Incident[];
  chronic: ChronicBlock[];
  /** Per-measurement figures; null when the store has no measurement index. */
  index: IndexData | null;
}

/** Read the month from the data directory (read-only: a running server may hold it). */
export function collectReportData(dataDir: string, period: ReportPeriod, now: number): ReportData {
  const db = new Database(path.join(dataDir, 'store.sqlite'), { readonly: true, fileMustExist: true });
  let hours: HourRow[];
  let index: IndexData | null;
  try {
    db.pragma('busy_timeout = 5000');
    const rows = db
      .prepare(
        `SELECT (bucket / ${HOUR_MS}) * ${HOUR_MS} AS hour, target, asn, verdict, SUM(count) AS count, SUM(blocked) AS blocked
         FROM aggregates WHERE bucket >= ? AND bucket < ? AND cc = ? GROUP BY hour, target, asn, verdict`,
      )
      .raw()
      .all(period.from, period.to, period.country) as Array<[number, string, number, Verdict, number, number]>;
    hours = rows.map(([hour, target, asn, verdict, count, blocked]) => ({ hour, target, asn: asn === -1 ? null : asn, verdict, count, blocked }));
    index = readIndexData(db, period);
  } finally {
    db.close();
  }
  const events = EventStore.open(path.join(dataDir, 'events.sqlite'));
  try {
    const inCountry = (cc: string | null): boolean => cc === null || cc === period.country;
    const overlaps = (start: number, end: number | null): boolean => start < period.to && (end === null || end >= period.from);
    return {
      period,
      generatedAt: now,
      hours,
      events: events.events({ from: period.from, to: period.to - 1 }).filter((e) => inCountry(e.cc)).sort((a, b) => a.start - b.start || a.id.localeCompare(b.id)),
      incidents: events.incidents({ from: period.from, to: period.to - 1 }).filter((i) => overlaps(i.start, i.end) && (i.ccs.length === 0 || i.ccs.includes(period.country))),
      chronic: events.chronic().filter((c) => inCountry(c.cc) && c.first_seen < period.to && c.last_seen >= period.from),
      index,
    };
  } finally {
    events.close();
  }
}
