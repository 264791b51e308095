// Phase 1 (per measurement): probe counts, handshake-time percentiles, bulk throughput and interception issuers from the store's measurement index, when it has one.
import type Database from 'better-sqlite3';
import type { ReportPeriod } from './period.js';

const DAY_MS = 86_400_000;

export interface DailyPercentiles {
  /** UTC midnight, epoch ms. */
  day: number;
  /** tcp: connect time, tls: handshake time (ms); bulk: throughput (kB/s). */
  metric: 'tcp' | 'tls' | 'bulk';
  p50: number;
  p90: number;
  n: number;
}

export interface IssuerRow {
  issuer: string;
  asn: number | null;
  count: number;
  first: number;
  last: number;
}

export interface IndexData {
  /** Distinct probes that measured in the month, in all and per network (key: ASN, "" unknown). */
  probes: number;
  probesByAsn: Record<string, number>;
  percentiles: DailyPercentiles[];
  issuers: IssuerRow[];
}

function hasIndex(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'measurement_index'").get() !== undefined;
}

/** p-quantile of a histogram given as sorted [value, count] pairs. */
function quantile(hist: ReadonlyArray<readonly [number, number]>, total: number, p: number): number {
  const rank = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const [value, count] of hist) {
    seen += count;
    if (seen >= rank) return value;
  }
  return hist.at(-1)?.[0] ?? 0;
}

function dailyPercentiles(db: Database.Database, period: ReportPeriod, column: 'tcp_ms' | 'tls_ms' | 'bulk_kBps', metric: DailyPercentiles['metric']): DailyPercentiles[] {
  // A histogram per day at 1 ms (1 kB/s) resolution, summed by SQLite: the rows never come to JS one by one.
  const rows = db
    .prepare(
      `SELECT (t / ${DAY_MS}) * ${DAY_MS} AS day, CAST(ROUND(${column}) AS INTEGER) AS v, COUNT(*) AS n FROM measurement_index
       WHERE t >= ? AND t < ? AND cc = ? AND ${column} IS NOT NULL GROUP BY day, v ORDER BY day, v`,
    )
    .raw()
    .all(period.from, period.to, period.country) as Array<[number, number, number]>;
  const byDay = new Map<number, Array<[number, number]>>();
  for (const [day, v, n] of rows) {
    let list = byDay.get(day);
    if (list === undefined) byDay.set(day, (list = []));
    list.push([v, n]);
  }
  return [...byDay].map(([day, hist]) => {
    const total = hist.reduce((s, [, n]) => s + n, 0);
    return { day, metric, p50: quantile(hist, total, 0.5), p90: quantile(hist, total, 0.9), n: total };
  });
}

export function readIndexData(db: Database.Database, period: ReportPeriod): IndexData | null {
  if (!hasIndex(db)) return null;
  const args = [period.from, period.to, period.country] as const;
  const perAsn = db
    .prepare('SELECT asn, COUNT(DISTINCT probe) AS n FROM measurement_index WHERE t >= ? AND t < ? AND cc = ? GROUP BY asn')
    .raw()
    .all(...args) as Array<[number, number]>;
  const probes = (db.prepare('SELECT COUNT(DISTINCT probe) AS n FROM measurement_index WHERE t >= ? AND t < ? AND cc = ?').get(...args) as { n: number }).n;
  const issuers = db
    .prepare(
      `SELECT issuer, asn, COUNT(*) AS count, MIN(t) AS first, MAX(t) AS last FROM measurement_index
       WHERE t >= ? AND t < ? AND cc = ? AND verdict = 'tls.interception' GROUP BY issuer, asn ORDER BY count DESC LIMIT 50`,
    )
    .all(...args) as Array<{ issuer: string | null; asn: number; count: number; first: number; last: number }>;
  return {
    probes,
    probesByAsn: Object.fromEntries(perAsn.map(([asn, n]) => [asn === -1 ? '' : String(asn), n])),
    percentiles: [...dailyPercentiles(db, period, 'tcp_ms', 'tcp'), ...dailyPercentiles(db, period, 'tls_ms', 'tls'), ...dailyPercentiles(db, period, 'bulk_kBps', 'bulk')],
    issuers: issuers.map((r) => ({ issuer: r.issuer ?? '', asn: r.asn === -1 ? null : r.asn, count: r.count, first: r.first, last: r.last })),
  };
}
