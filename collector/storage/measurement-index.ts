// The measurement index in the store's database: one row per measurement (time, target, network, probe, both verdicts, timings, throttling and interception evidence) and where its record is in the archive.
import Database from 'better-sqlite3';
import type { ArchiveCursor, ArchivedRecord, CollectorJudgement } from './archive.js';
import { indexRow, type IndexRow } from './index-row.js';
import { openDatabase } from './sqlite.js';

export { collectorDecision, indexRow, type IndexRow } from './index-row.js';

/** One probe's judged measurements of one target on one network in one clock hour. */
export interface ProbeCell {
  probe: string;
  asn: number;
  target: string;
  /** Epoch hour. */
  hour: number;
  /** Measurements with a verdict on reachability (not offline or inconclusive). */
  judged: number;
  /** Of which blocked. */
  blocked: number;
}

export interface IndexQuery {
  /** Inclusive start and exclusive end of `t`, epoch ms. */
  from?: number;
  to?: number;
  target?: string;
  /** -1 = unknown. */
  asn?: number;
  cc?: string;
  verdict?: string;
  probe?: string;
  /** Rows strictly older than this (t, id) position: the page after it. */
  before?: { t: number; id: string };
  limit: number;
}

export interface NetworkRow {
  asn: number;
  cc: string;
  /** The network's name as last recorded, or null. */
  name: string | null;
  probes: number;
  measurements: number;
  /** Latest measurement start, epoch ms. */
  last_seen: number;
}

const CURSOR_KEY = 'measurement_index_cursor';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS measurement_index (
  id TEXT NOT NULL UNIQUE,
  t INTEGER NOT NULL,
  target TEXT NOT NULL,
  asn INTEGER NOT NULL,
  cc TEXT NOT NULL,
  probe TEXT NOT NULL,
  verdict TEXT NOT NULL,
  probe_verdict TEXT NOT NULL,
  layer TEXT,
  scope TEXT,
  dns_ms REAL,
  tcp_ms REAL,
  tls_ms REAL,
  http_ms REAL,
  bulk_kBps REAL,
  canary_kBps REAL,
  issuer TEXT,
  segment TEXT NOT NULL,
  offset INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS measurement_index_t ON measurement_index (t);
CREATE INDEX IF NOT EXISTS measurement_index_target_t ON measurement_index (target, t);
CREATE INDEX IF NOT EXISTS measurement_index_asn_t ON measurement_index (asn, t);
CREATE INDEX IF NOT EXISTS measurement_index_probe_t ON measurement_index (probe, t);
CREATE TABLE IF NOT EXISTS measurement_networks (
  asn INTEGER NOT NULL,
  cc TEXT NOT NULL,
  name TEXT,
  t INTEGER NOT NULL,
  PRIMARY KEY (asn, cc)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejudged (
  id TEXT PRIMARY KEY,
  collector TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

const COLUMNS = [
  'id',
  't',
  'target',
  'asn',
  'cc',
  'probe',
  'verdict',
  'probe_verdict',
  'layer',
  'scope',
  'dns_ms',
  'tcp_ms',
  'tls_ms',
  'http_ms',
  'bulk_kBps',
  'canary_kBps',
  'issuer',
  'segment',
  'offset',
] as const;

/**
 * The measurement index: its own connection to the store's SQLite file (WAL), its own cursor in the
 * store's meta table. Idempotent by id: a record seen again (a replay, a reindex) leaves the row as
 * it was.
 */
export class MeasurementIndex {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement<unknown[]>;
  private readonly network: Database.Statement<unknown[]>;
  private readonly getMeta: Database.Statement<[string], { value: string }>;
  private readonly setMeta: Database.Statement<[string, string]>;
  private readonly byId: Database.Statement<[string], IndexRow>;
  private readonly applyTx: (rows: readonly IndexRow[], names: ReadonlyArray<readonly [number, string, string | null, number]>, cursor: ArchiveCursor | null) => void;

  private constructor(file: string) {
    this.db = openDatabase(file, SCHEMA, 'NORMAL');
    this.dropOutdated();
    this.insert = this.db.prepare(`INSERT OR IGNORE INTO measurement_index (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
    // The name kept is the one of the latest measurement (a network renamed in the ASN database moves on).
    this.network = this.db.prepare(
      `INSERT INTO measurement_networks (asn, cc, name, t) VALUES (?, ?, ?, ?)
       ON CONFLICT (asn, cc) DO UPDATE SET name = COALESCE(excluded.name, name), t = excluded.t WHERE excluded.t >= t`,
    );
    this.getMeta = this.db.prepare('SELECT value FROM meta WHERE key = ?');
    this.setMeta = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.byId = this.db.prepare(`SELECT ${COLUMNS.join(', ')} FROM measurement_index WHERE id = ?`);
    this.applyTx = this.db.transaction((rows, names, cursor) => {
      for (const row of rows) this.insert.run(...COLUMNS.map((c) => row[c]));
      for (const n of names) this.network.run(...n);
      if (cursor !== null) this.setMeta.run(CURSOR_KEY, JSON.stringify(cursor));
    });
  }

  /**
   * An index made before its rows were kept in arrival order (a table keyed by the measurement id,
   * whose random order made every insert land anywhere in the file) is dropped, with its cursor:
   * the follower builds it again from the archive at start.
   */
  private dropOutdated(): void {
    const table = this.db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'measurement_index'").pluck().get() as string | undefined;
    if (table === undefined || !/WITHOUT\s+ROWID/i.test(table)) return;
    this.db.transaction(() => {
      this.db.exec('DROP TABLE measurement_index');
      this.db.prepare('DELETE FROM meta WHERE key = ?').run(CURSOR_KEY);
      this.db.exec(SCHEMA);
    })();
  }

  static open(file: string): MeasurementIndex {
    return new MeasurementIndex(file);
  }

  /** Index records (each with where its line starts) and save `cursor` with them, in one transaction. */
  apply(records: ReadonlyArray<{ record: ArchivedRecord; at: ArchiveCursor }>, cursor: ArchiveCursor | null): void {
    this.applyRows(
      records.map(({ record, at }) => ({ row: indexRow(record, at), network: record.network })),
      cursor,
    );
  }

  /** Index rows already derived (by an import's parsing thread), each with its record's network name. */
  applyRows(rows: ReadonlyArray<{ row: IndexRow; network: string | null }>, cursor: ArchiveCursor | null): void {
    const kept: IndexRow[] = [];
    const names = new Map<string, [number, string, string | null, number]>();
    for (const { row, network } of rows) {
      if (Number.isNaN(row.t)) continue; // validated at ingest: never happens for an archived record
      kept.push(row);
      const key = `${row.asn}|${row.cc}`;
      const seen = names.get(key);
      if (seen === undefined || row.t >= seen[3]) names.set(key, [row.asn, row.cc, network ?? seen?.[2] ?? null, row.t]);
    }
    this.applyTx(kept, [...names.values()], cursor);
  }

  cursor(): ArchiveCursor | null {
    const row = this.getMeta.get(CURSOR_KEY);
    return row ? (JSON.parse(row.value) as ArchiveCursor) : null;
  }

  /** Forget every row and the cursor (the start of a reindex). */
  reset(): void {
    this.db.transaction(() => {
      this.db.exec('DELETE FROM measurement_index; DELETE FROM measurement_networks; DELETE FROM rejudged;');
      this.db.prepare('DELETE FROM meta WHERE key = ?').run(CURSOR_KEY);
    })();
  }

  get(id: string): IndexRow | null {
    return this.byId.get(id) ?? null;
  }

  /**
   * Keep the judgements a reindex recomputed where they differ from the archived record's (the
   * archive is never rewritten): null where the record has no collector verdict any more.
   */
  saveRejudged(changes: Iterable<readonly [string, CollectorJudgement | null]>): void {
    const put = this.db.prepare('INSERT INTO rejudged (id, collector) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET collector = excluded.collector');
    this.db.transaction(() => {
      for (const [id, j] of changes) put.run(id, j === null ? null : JSON.stringify(j));
    })();
  }

  /** The judgement a reindex recomputed for `id` (null: none now); undefined when the archived record's stands. */
  rejudged(id: string): CollectorJudgement | null | undefined {
    const row = this.db.prepare('SELECT collector FROM rejudged WHERE id = ?').get(id) as { collector: string | null } | undefined;
    if (row === undefined) return undefined;
    return row.collector === null ? null : (JSON.parse(row.collector) as CollectorJudgement);
  }

  /** Per probe, network, target and clock hour from `from` to `to` (epoch ms): measurements judged on reachability, and of them blocked (the collector's verdict). */
  probeCells(from: number, to: number): ProbeCell[] {
    return this.db
      .prepare(
        `SELECT probe, asn, target, t / 3600000 AS hour,
                SUM(verdict NOT IN ('offline', 'inconclusive')) AS judged,
                SUM(verdict NOT IN ('ok', 'down', 'offline', 'inconclusive')) AS blocked
         FROM measurement_index WHERE t >= ? AND t < ? AND asn != -1
         GROUP BY asn, target, hour, probe`,
      )
      .all(from, to) as ProbeCell[];
  }

  /** Per probe: its measurements, and its latest one (its network, and where it is in the archive). */
  probeStats(): Map<string, { measurements: number; asn: number | null; cc: string | null; latest: ArchiveCursor }> {
    const rows = this.db
      .prepare(
        `SELECT m.probe AS probe, m.n AS n, l.asn AS asn, l.cc AS cc, l.segment AS segment, l.offset AS offset
         FROM (SELECT probe, COUNT(*) AS n, MAX(t) AS t FROM measurement_index GROUP BY probe) m
         JOIN measurement_index l ON l.probe = m.probe AND l.t = m.t
         GROUP BY m.probe`,
      )
      .all() as Array<{ probe: string; n: number; asn: number; cc: string; segment: string; offset: number }>;
    return new Map(
      rows.map((r) => [r.probe, { measurements: r.n, asn: r.asn === -1 ? null : r.asn, cc: r.cc === '' ? null : r.cc, latest: { segment: r.segment, offset: r.offset } }]),
    );
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM measurement_index').get() as { n: number }).n;
  }

  /** Rows matching `q`, newest first (t, then id, descending). */
  query(q: IndexQuery): IndexRow[] {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (q.from !== undefined) {
      where.push('t >= ?');
      params.push(q.from);
    }
    if (q.to !== undefined) {
      where.push('t < ?');
      params.push(q.to);
    }
    for (const [column, value] of [
      ['target', q.target],
      ['asn', q.asn],
      ['cc', q.cc],
      ['verdict', q.verdict],
      ['probe', q.probe],
    ] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    if (q.before !== undefined) {
      where.push('(t < ? OR (t = ? AND id < ?))');
      params.push(q.before.t, q.before.t, q.before.id);
    }
    const sql = `SELECT ${COLUMNS.join(', ')} FROM measurement_index${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY t DESC, id DESC LIMIT ?`;
    params.push(q.limit);
    return this.db.prepare(sql).all(...params) as IndexRow[];
  }

  /** Networks with measurements starting in [from, to): distinct probes, measurements, latest start, name. */
  networks(from: number, to: number): NetworkRow[] {
    return this.db
      .prepare(
        `SELECT i.asn AS asn, i.cc AS cc, n.name AS name, COUNT(DISTINCT i.probe) AS probes, COUNT(*) AS measurements, MAX(i.t) AS last_seen
         FROM measurement_index i LEFT JOIN measurement_networks n ON n.asn = i.asn AND n.cc = i.cc
         WHERE i.t >= ? AND i.t < ? GROUP BY i.asn, i.cc ORDER BY probes DESC, measurements DESC, i.asn`,
      )
      .all(from, to) as NetworkRow[];
  }

  close(): void {
    this.db.close();
  }
}
