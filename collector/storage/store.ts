// The embedded store (SQLite, WAL): registered probes, seen measurement ids and 10-minute aggregates.
import Database from 'better-sqlite3';
import { InvalidArgumentError } from '../../common/errors.js';
import type { SpoolOverflowReport } from '../../contract/wire.js';
import { isBlocked, type Verdict } from '../../contract/verdict.js';
import { verdictOf, type ArchiveCursor } from './archive.js';
import { ProbeExclusions } from './exclusions.js';
import type { RecordDigest } from './record-digest.js';
import { openDatabase } from './sqlite.js';

export const BUCKET_MS = 10 * 60 * 1000;

export interface ProbeRecord {
  id: string;
  /** PEM SPKI Ed25519. */
  public_key: string;
  registered_at: string;
  last_seen: string | null;
  /** `control`: a probe outside the censor, enrolled with a control token; its measurements are control evidence, never a network's. */
  role: ProbeRole;
  /** The operator's note of the invite it joined with (null: joined with a shared token). */
  note: string | null;
  /** When the operator revoked it (its uploads are refused from then on), or null. */
  revoked_at: string | null;
  /** From when its measurements are left out of aggregates and events (the revocation, or earlier on request), or null. */
  excluded_from: string | null;
}

/** What `ashyq-collector probes` lists of one probe (its key left out). */
export type ProbeSummary = Omit<ProbeRecord, 'public_key'>;

export type ProbeRole = 'probe' | 'control';

export interface AggregateRow {
  /** Bucket start, epoch ms (multiple of 10 minutes). */
  bucket: number;
  target: string;
  asn: number | null;
  cc: string | null;
  verdict: Verdict;
  count: number;
  /** Measurements of a blocking verdict over the whole target (no scope, or scope `full`). */
  blocked: number;
  /** Measurements of a blocking verdict over part of the target (scope `partial`): never in `blocked`. */
  partial: number;
}

export interface SeriesQuery {
  target: string;
  asn: number | null;
  /** Inclusive start and exclusive end, epoch ms. */
  from: number;
  to: number;
  /** Multiple of 10 minutes, ms. */
  step: number;
}

export interface SeriesPoint {
  /** Start of the step, epoch ms. */
  t: number;
  count: number;
  /** Blocking verdicts over the whole target. */
  blocked: number;
  /** Blocking verdicts over part of it (scope `partial`), kept apart from `blocked`. */
  partial: number;
  verdicts: Partial<Record<Verdict, number>>;
}

/** One aggregate row's increments from one apply. */
interface AggregateDelta {
  bucket: number;
  target: string;
  asn: number;
  cc: string;
  verdict: Verdict;
  count: number;
  blocked: number;
  partial: number;
}

// Unknown ASN and country are stored as -1 and '' so that they take part in the aggregate key.
const NO_ASN = -1;
const NO_CC = '';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS probes (
  id TEXT PRIMARY KEY,
  public_key TEXT NOT NULL,
  registered_at TEXT NOT NULL,
  last_seen TEXT,
  role TEXT NOT NULL DEFAULT 'probe',
  note TEXT,
  revoked_at TEXT,
  excluded_from TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS measurements (
  id TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS aggregates (
  bucket INTEGER NOT NULL,
  target TEXT NOT NULL,
  asn INTEGER NOT NULL,
  cc TEXT NOT NULL,
  verdict TEXT NOT NULL,
  count INTEGER NOT NULL,
  blocked INTEGER NOT NULL,
  partial INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (target, bucket, asn, cc, verdict)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spool_overflows (
  probe_id TEXT NOT NULL,
  first_dropped_at TEXT NOT NULL,
  last_dropped_at TEXT NOT NULL,
  dropped INTEGER NOT NULL,
  received_at TEXT NOT NULL,
  PRIMARY KEY (probe_id, first_dropped_at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
`;

/** Bucket start (epoch ms) of a measurement's start time. */
export function bucketOf(startedAt: string): number {
  const t = Date.parse(startedAt);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`not a time: ${startedAt}`);
  return Math.floor(t / BUCKET_MS) * BUCKET_MS;
}

export class Store {
  private readonly db: Database.Database;
  #exclusions: ProbeExclusions = ProbeExclusions.none;
  private readonly stmt: {
    insertProbe: Database.Statement<[string, string, string, ProbeRole, string | null]>;
    getProbe: Database.Statement<[string], ProbeRecord>;
    countProbes: Database.Statement<[], { n: number }>;
    touchProbe: Database.Statement<[string, string]>;
    hasMeasurement: Database.Statement<[string], { one: number }>;
    knownMeasurements: Database.Statement<[string], string>;
    insertMeasurements: Database.Statement<[string]>;
    upsertAggregate: Database.Statement<[number, string, number, string, string, number, number, number]>;
    getMeta: Database.Statement<[string], { value: string }>;
    setMeta: Database.Statement<[string, string]>;
    getOverflow: Database.Statement<[string, string], { last_dropped_at: string; dropped: number }>;
    putOverflow: Database.Statement<[string, string, string, number, string]>;
    overflowTotals: Database.Statement<[], { reports: number; dropped: number | null }>;
  };
  private readonly overflowTx: (probeId: string, report: SpoolOverflowReport, receivedAt: string) => number;
  private readonly applyTx: (records: readonly RecordDigest[], cursor: ArchiveCursor | null, touches: ReadonlyArray<readonly [string, string]>) => number;

  private constructor(file: string) {
    this.db = openDatabase(file, SCHEMA, 'FULL');
    // A store made before partial blocking was counted apart: add the column (its rows count 0 until a reindex).
    const columns = this.db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('aggregates') as string[];
    if (!columns.includes('partial')) this.db.exec('ALTER TABLE aggregates ADD COLUMN partial INTEGER NOT NULL DEFAULT 0');
    // A store made before control probes: every probe it has is a probe of the measured networks.
    const probeColumns = this.db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('probes') as string[];
    if (!probeColumns.includes('role')) this.db.exec("ALTER TABLE probes ADD COLUMN role TEXT NOT NULL DEFAULT 'probe'");
    // ... and before invites and revocation.
    if (!probeColumns.includes('note')) this.db.exec('ALTER TABLE probes ADD COLUMN note TEXT');
    if (!probeColumns.includes('revoked_at')) this.db.exec('ALTER TABLE probes ADD COLUMN revoked_at TEXT');
    if (!probeColumns.includes('excluded_from')) this.db.exec('ALTER TABLE probes ADD COLUMN excluded_from TEXT');
    this.stmt = {
      insertProbe: this.db.prepare('INSERT INTO probes (id, public_key, registered_at, last_seen, role, note) VALUES (?, ?, ?, NULL, ?, ?)'),
      getProbe: this.db.prepare('SELECT id, public_key, registered_at, last_seen, role, note, revoked_at, excluded_from FROM probes WHERE id = ?'),
      countProbes: this.db.prepare('SELECT COUNT(*) AS n FROM probes'),
      touchProbe: this.db.prepare('UPDATE probes SET last_seen = ? WHERE id = ?'),
      hasMeasurement: this.db.prepare('SELECT 1 AS one FROM measurements WHERE id = ?'),
      // Many ids in one statement (a JSON array): one call into SQLite per group instead of one per id.
      knownMeasurements: this.db.prepare<[string], string>('SELECT id FROM measurements WHERE id IN (SELECT value FROM json_each(?))').pluck(),
      insertMeasurements: this.db.prepare('INSERT OR IGNORE INTO measurements (id) SELECT value FROM json_each(?)'),
      upsertAggregate: this.db.prepare(
        `INSERT INTO aggregates (bucket, target, asn, cc, verdict, count, blocked, partial) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (target, bucket, asn, cc, verdict) DO UPDATE SET
           count = count + excluded.count, blocked = blocked + excluded.blocked, partial = partial + excluded.partial`,
      ),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      getOverflow: this.db.prepare('SELECT last_dropped_at, dropped FROM spool_overflows WHERE probe_id = ? AND first_dropped_at = ?'),
      putOverflow: this.db.prepare(
        `INSERT INTO spool_overflows (probe_id, first_dropped_at, last_dropped_at, dropped, received_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (probe_id, first_dropped_at) DO UPDATE SET last_dropped_at = excluded.last_dropped_at, dropped = excluded.dropped, received_at = excluded.received_at`,
      ),
      overflowTotals: this.db.prepare('SELECT COUNT(*) AS reports, SUM(dropped) AS dropped FROM spool_overflows'),
    };
    this.overflowTx = this.db.transaction((probeId: string, report: SpoolOverflowReport, receivedAt: string) => {
      const before = this.stmt.getOverflow.get(probeId, report.first_dropped_at);
      const dropped = Math.max(before?.dropped ?? 0, report.dropped);
      const last = before !== undefined && Date.parse(before.last_dropped_at) > Date.parse(report.last_dropped_at) ? before.last_dropped_at : report.last_dropped_at;
      this.stmt.putOverflow.run(probeId, report.first_dropped_at, last, dropped, receivedAt);
      return dropped - (before?.dropped ?? 0);
    });
    this.applyTx = this.db.transaction((records: readonly RecordDigest[], cursor: ArchiveCursor | null, touches: ReadonlyArray<readonly [string, string]>) => {
      let added = 0;
      if (records.length > 0) {
        const ids = JSON.stringify(records.map((r) => r.measurement.id));
        const seen = new Set(this.stmt.knownMeasurements.all(ids));
        this.stmt.insertMeasurements.run(ids);
        // Counted per aggregate row in memory first: one upsert per row touched, not per measurement.
        const rows = new Map<string, AggregateDelta>();
        for (const r of records) {
          const m = r.measurement;
          if (seen.has(m.id)) continue; // indexed before, or repeated in this list
          seen.add(m.id);
          added++;
          // A revoked probe's measurement from its exclusion on: known (a repeat is a duplicate), not counted.
          if (!this.#exclusions.counts(r.probe_id, m.started_at)) continue;
          const bucket = bucketOf(m.started_at);
          const asn = r.asn ?? NO_ASN;
          const cc = r.cc ?? NO_CC;
          // The collector's verdict when a control judged the measurement, else the probe's.
          const decided = verdictOf(r);
          const verdict = decided.verdict;
          const target = m.target.id;
          // Unambiguous: numbers first, then each string with its length.
          const key = `${bucket}|${asn}|${verdict.length}:${verdict}${cc.length}:${cc}${target}`;
          const partial = isBlocked(verdict) && decided.scope === 'partial' ? 1 : 0;
          const blocked = isBlocked(verdict) && partial === 0 ? 1 : 0;
          const row = rows.get(key);
          if (row === undefined) rows.set(key, { bucket, target, asn, cc, verdict, count: 1, blocked, partial });
          else {
            row.count++;
            row.blocked += blocked;
            row.partial += partial;
          }
        }
        for (const row of rows.values()) {
          this.stmt.upsertAggregate.run(row.bucket, row.target, row.asn, row.cc, row.verdict, row.count, row.blocked, row.partial);
        }
      }
      if (cursor !== null) this.stmt.setMeta.run('archive_cursor', JSON.stringify(cursor));
      for (const [probeId, at] of touches) this.stmt.touchProbe.run(at, probeId);
      return added;
    });
    this.#exclusions = this.loadExclusions();
  }

  static open(file: string): Store {
    return new Store(file);
  }

  /** Register a probe: 'created', 'exists' (same id and key: an idempotent retry) or 'conflict'. */
  /** Register a probe's key; a probe registered again with its key keeps the role it was given first. */
  registerProbe(id: string, publicKey: string, registeredAt: string, role: ProbeRole = 'probe', note: string | null = null): 'created' | 'exists' | 'conflict' {
    const existing = this.stmt.getProbe.get(id);
    if (existing) return existing.public_key === publicKey ? 'exists' : 'conflict';
    this.stmt.insertProbe.run(id, publicKey, registeredAt, role, note);
    return 'created';
  }

  probe(id: string): ProbeRecord | undefined {
    return this.stmt.getProbe.get(id);
  }

  /** Every registered probe, oldest registration first. */
  probes(): ProbeSummary[] {
    return this.db.prepare('SELECT id, registered_at, last_seen, role, note, revoked_at, excluded_from FROM probes ORDER BY registered_at, id').all() as ProbeSummary[];
  }

  /**
   * Refuse `id`'s uploads from `at` on, and leave its measurements out of the aggregates and events
   * from `excludeFrom` (default `at`; earlier on request: retroactively). Revoking again keeps the
   * first revocation time and the earliest exclusion. False when no such probe is registered.
   */
  revokeProbe(id: string, at: string, excludeFrom: string = at): boolean {
    const probe = this.stmt.getProbe.get(id);
    if (probe === undefined) return false;
    const from = probe.excluded_from !== null && Date.parse(probe.excluded_from) <= Date.parse(excludeFrom) ? probe.excluded_from : excludeFrom;
    this.db.prepare('UPDATE probes SET revoked_at = ?, excluded_from = ? WHERE id = ?').run(probe.revoked_at ?? at, from, id);
    this.#exclusions = this.loadExclusions();
    return true;
  }

  /** The probes whose measurements are left out from some time on (read at open, and after each revocation). */
  exclusions(): ProbeExclusions {
    return this.#exclusions;
  }

  private loadExclusions(): ProbeExclusions {
    const rows = this.db.prepare('SELECT id, excluded_from FROM probes WHERE excluded_from IS NOT NULL').all() as Array<{ id: string; excluded_from: string }>;
    return rows.length === 0 ? ProbeExclusions.none : new ProbeExclusions(new Map(rows.map((r) => [r.id, Date.parse(r.excluded_from)])));
  }

  probeCount(): number {
    return this.stmt.countProbes.get()?.n ?? 0;
  }

  hasMeasurement(id: string): boolean {
    return this.stmt.hasMeasurement.get(id) !== undefined;
  }

  /** Which of `ids` are indexed already (one query for the lot). */
  knownMeasurements(ids: readonly string[]): Set<string> {
    if (ids.length === 0) return new Set();
    return new Set(this.stmt.knownMeasurements.all(JSON.stringify(ids)));
  }

  /**
   * Index archived records in one transaction: ids not seen before are added and counted in the
   * aggregates (a repeated id is skipped); the archive cursor is saved with them, and `touches`
   * ([probe id, last seen]) in the same transaction. Returns how many were new.
   */
  apply(records: readonly RecordDigest[], cursor: ArchiveCursor | null, touches: ReadonlyArray<readonly [string, string]> = []): number {
    return this.applyTx(records, cursor, touches);
  }

  /** How far the archive has been indexed. */
  cursor(): ArchiveCursor | null {
    const row = this.stmt.getMeta.get('archive_cursor');
    return row ? (JSON.parse(row.value) as ArchiveCursor) : null;
  }

  /** Forget measurement ids, aggregates and the cursor (probes stay): the start of a reindex. */
  resetIndex(): void {
    this.db.transaction(() => {
      this.db.exec('DELETE FROM measurements; DELETE FROM aggregates;');
      this.db.prepare("DELETE FROM meta WHERE key = 'archive_cursor'").run();
    })();
  }

  /**
   * Keep a probe's spool-overflow report: one row per (probe, first_dropped_at) holding the largest
   * count reported, so a report resent after a lost answer (or grown since) is not counted twice.
   * Returns how many drops are new to the collector.
   */
  recordSpoolOverflow(probeId: string, report: SpoolOverflowReport, receivedAt: string): number {
    return this.overflowTx(probeId, report, receivedAt);
  }

  /** The report kept for one overflow of a probe's spool (largest count, latest drop), or null. */
  spoolOverflow(probeId: string, firstDroppedAt: string): SpoolOverflowReport | null {
    const row = this.stmt.getOverflow.get(probeId, firstDroppedAt);
    return row === undefined ? null : { dropped: row.dropped, first_dropped_at: firstDroppedAt, last_dropped_at: row.last_dropped_at };
  }

  /** Reports kept and measurements dropped by full probe spools, over all probes. */
  spoolOverflowTotals(): { reports: number; dropped: number } {
    const row = this.stmt.overflowTotals.get();
    return { reports: row?.reports ?? 0, dropped: row?.dropped ?? 0 };
  }

  measurementCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM measurements').get() as { n: number }).n;
  }

  measurementIds(): string[] {
    return (this.db.prepare('SELECT id FROM measurements ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);
  }

  /** Every aggregate row in key order. */
  aggregates(): AggregateRow[] {
    const rows = this.db
      .prepare('SELECT bucket, target, asn, cc, verdict, count, blocked, partial FROM aggregates ORDER BY target, bucket, asn, cc, verdict')
      .all() as Array<{ bucket: number; target: string; asn: number; cc: string; verdict: Verdict; count: number; blocked: number; partial: number }>;
    return rows.map((r) => ({ ...r, asn: r.asn === NO_ASN ? null : r.asn, cc: r.cc === NO_CC ? null : r.cc }));
  }

  /** Counts per step for one target (one ASN or all), summed over countries; only steps with data. */
  series(query: SeriesQuery): SeriesPoint[] {
    if (query.step <= 0 || query.step % BUCKET_MS !== 0) throw new InvalidArgumentError('step must be a multiple of 10 minutes');
    const params: Array<string | number> = [query.step, query.step, query.target, query.from, query.to];
    let sql =
      'SELECT (bucket / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS t, verdict, SUM(count) AS count, SUM(blocked) AS blocked, SUM(partial) AS partial' +
      ' FROM aggregates WHERE target = ? AND bucket >= ? AND bucket < ?';
    if (query.asn !== null) {
      sql += ' AND asn = ?';
      params.push(query.asn);
    }
    sql += ' GROUP BY t, verdict ORDER BY t, verdict';
    const rows = this.db.prepare(sql).all(...params) as Array<{ t: number; verdict: Verdict; count: number; blocked: number; partial: number }>;
    const points: SeriesPoint[] = [];
    for (const row of rows) {
      let point = points.at(-1);
      if (point === undefined || point.t !== row.t) {
        point = { t: row.t, count: 0, blocked: 0, partial: 0, verdicts: {} };
        points.push(point);
      }
      point.count += row.count;
      point.blocked += row.blocked;
      point.partial += row.partial;
      point.verdicts[row.verdict] = row.count;
    }
    return points;
  }

  close(): void {
    this.db.close();
  }
}
