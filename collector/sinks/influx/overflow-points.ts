// Probes' spool-overflow reports as InfluxDB `spool_overflow` points (fleet health), written in the background with retries.
import type { SpoolOverflowReport } from '../../../contract/wire.js';
import { integerField, line, pointTimestamp, quoteString } from './line.js';
import { PendingPoints, type PendingPointsOptions } from './pending-points.js';
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

export interface SpoolOverflowPointsOptions extends PendingPointsOptions {}

/**
 * Collects reports as ingest keeps them and writes them in the background, retrying with backoff
 * while InfluxDB fails. A report is forgotten once InfluxDB acknowledged it; what is pending when
 * the process stops is not written (the store keeps every report, and the collector's metrics count them).
 */
export class SpoolOverflowPoints extends PendingPoints {
  /** A report as the store now holds it: written at the next flush (a later note of the same overflow replaces it). */
  note(point: SpoolOverflowPoint): void {
    try {
      this.put(`${point.probe_id}\u0000${point.report.first_dropped_at}`, spoolOverflowLine(point));
    } catch (err) {
      this.o.logger.error(`spool overflow report of ${point.probe_id} has no point, skipped: ${(err as Error).message}`);
    }
  }
}
