// The embedded store of blocking events (SQLite, WAL, events.sqlite): current events, incidents, chronic blocks, the append-only revisions, the detector's snapshot.
import Database from 'better-sqlite3';
import type { DetectorState } from '../events/state.js';
import type { BlockingEvent, ChronicBlock, EventFilter, Incident, Revision } from '../events/types.js';
import type { ArchiveCursor } from './archive.js';
import { openDatabase } from './sqlite.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  start INTEGER NOT NULL,
  end_at INTEGER,
  status TEXT NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_start ON events (start);
CREATE INDEX IF NOT EXISTS events_open ON events (start) WHERE status = 'open';
CREATE TABLE IF NOT EXISTS revisions (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS revisions_event ON revisions (event_id, seq);
CREATE TABLE IF NOT EXISTS incidents (
  id TEXT PRIMARY KEY,
  start INTEGER NOT NULL,
  end_at INTEGER,
  json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chronic (
  series TEXT PRIMARY KEY,
  json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/** What one detection step changed, saved in one transaction with the position it reached. */
export interface EventChanges {
  revisions: readonly Revision[];
  /** The current form of every event a revision touched. */
  events: readonly BlockingEvent[];
  /** The whole incident list, when it may have changed. */
  incidents: readonly Incident[] | null;
  /** The whole chronic list, when it may have changed. */
  chronic: readonly ChronicBlock[] | null;
  /** Position after the last archived record observed (null: unchanged). */
  cursor: ArchiveCursor | null;
}

export interface Snapshot {
  state: DetectorState;
  /** Position after the last record the state had observed. */
  cursor: ArchiveCursor | null;
  /** The last revision the state had made. */
  seq: number;
}

export interface IncidentFilter {
  from?: number;
  to?: number;
  open?: boolean;
}

/** Events matching `filter` among `events` (the API's, the command line's and the report's one filter). */
export function matchesEvent(e: BlockingEvent, filter: EventFilter & { open?: boolean }): boolean {
  if (e.status === 'retracted' && filter.include_retracted !== true) return false;
  if (filter.open === true && e.end !== null) return false;
  if (filter.target !== undefined && !e.targets.includes(filter.target) && e.targets[0] !== '*') return false;
  if (filter.asn !== undefined && !e.asns.includes(filter.asn)) return false;
  if (filter.cc !== undefined && e.cc !== filter.cc) return false;
  if (filter.method !== undefined && e.method !== filter.method) return false;
  if (filter.kind !== undefined && e.kind !== filter.kind) return false;
  if (filter.level !== undefined && e.level !== filter.level) return false;
  if (filter.from !== undefined && e.end !== null && e.end < filter.from) return false;
  if (filter.to !== undefined && e.start > filter.to) return false;
  return true;
}

export class EventStore {
  private readonly db: Database.Database;
  private readonly stmt: {
    putEvent: Database.Statement<[string, number, number | null, string, string]>;
    putRevision: Database.Statement<[number, string, string]>;
    putIncident: Database.Statement<[string, number, number | null, string]>;
    putChronic: Database.Statement<[string, string]>;
    getMeta: Database.Statement<[string], { value: string }>;
    setMeta: Database.Statement<[string, string]>;
    events: Database.Statement<[number, number], { json: string }>;
    openEvents: Database.Statement<[], { json: string }>;
    event: Database.Statement<[string], { json: string }>;
    revisionsOf: Database.Statement<[string], { json: string }>;
    revisionsAfter: Database.Statement<[number, number], { json: string }>;
    lastSeq: Database.Statement<[], { seq: number | null }>;
    openCount: Database.Statement<[], { n: number }>;
    snapshotSeq: Database.Statement<[], { seq: number | null }>;
    incidents: Database.Statement<[number, number], { json: string }>;
    chronic: Database.Statement<[], { json: string }>;
  };
  private readonly applyTx: (changes: EventChanges) => void;

  private constructor(file: string) {
    this.db = openDatabase(file, SCHEMA, 'NORMAL');
    this.stmt = {
      putEvent: this.db.prepare('INSERT OR REPLACE INTO events (id, start, end_at, status, json) VALUES (?, ?, ?, ?, ?)'),
      putRevision: this.db.prepare('INSERT OR REPLACE INTO revisions (seq, event_id, json) VALUES (?, ?, ?)'),
      putIncident: this.db.prepare('INSERT OR REPLACE INTO incidents (id, start, end_at, json) VALUES (?, ?, ?, ?)'),
      putChronic: this.db.prepare('INSERT OR REPLACE INTO chronic (series, json) VALUES (?, ?)'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      // Overlapping [from, to]: started by `to` and not ended before `from` (open events have no end).
      events: this.db.prepare('SELECT json FROM events WHERE start <= ? AND (end_at IS NULL OR end_at >= ?) ORDER BY start, id'),
      openEvents: this.db.prepare("SELECT json FROM events WHERE status = 'open' ORDER BY start, id"),
      event: this.db.prepare('SELECT json FROM events WHERE id = ?'),
      revisionsOf: this.db.prepare('SELECT json FROM revisions WHERE event_id = ? ORDER BY seq'),
      revisionsAfter: this.db.prepare('SELECT json FROM revisions WHERE seq > ? ORDER BY seq LIMIT ?'),
      lastSeq: this.db.prepare('SELECT MAX(seq) AS seq FROM revisions'),
      openCount: this.db.prepare("SELECT COUNT(*) AS n FROM events WHERE status = 'open'"),
      snapshotSeq: this.db.prepare("SELECT json_extract(value, '$.seq') AS seq FROM meta WHERE key = 'snapshot'"),
      incidents: this.db.prepare('SELECT json FROM incidents WHERE start <= ? AND (end_at IS NULL OR end_at >= ?) ORDER BY start, id'),
      chronic: this.db.prepare('SELECT json FROM chronic ORDER BY series'),
    };
    this.applyTx = this.db.transaction((changes: EventChanges) => {
      for (const r of changes.revisions) this.stmt.putRevision.run(r.seq, r.event_id, JSON.stringify(r));
      for (const e of changes.events) this.stmt.putEvent.run(e.id, e.start, e.end, e.status, JSON.stringify(e));
      if (changes.incidents !== null) {
        this.db.exec('DELETE FROM incidents');
        for (const i of changes.incidents) this.stmt.putIncident.run(i.id, i.start, i.end, JSON.stringify(i));
      }
      if (changes.chronic !== null) {
        this.db.exec('DELETE FROM chronic');
        for (const c of changes.chronic) this.stmt.putChronic.run(c.series, JSON.stringify(c));
      }
      if (changes.cursor !== null) this.stmt.setMeta.run('cursor', JSON.stringify(changes.cursor));
    });
  }

  /** Open (or create) the store; a second connection (the command line while a server runs) reads alike. */
  static open(file: string): EventStore {
    return new EventStore(file);
  }

  apply(changes: EventChanges): void {
    this.applyTx(changes);
  }

  /** Position after the last record whose changes are saved. */
  cursor(): ArchiveCursor | null {
    const row = this.stmt.getMeta.get('cursor');
    return row ? (JSON.parse(row.value) as ArchiveCursor) : null;
  }

  saveSnapshot(snapshot: Snapshot): void {
    this.stmt.setMeta.run('snapshot', JSON.stringify(snapshot));
  }

  snapshot(): Snapshot | null {
    const row = this.stmt.getMeta.get('snapshot');
    return row ? (JSON.parse(row.value) as Snapshot) : null;
  }

  /**
   * Back to a snapshot after a restart: revisions made after it are dropped (replaying the archive
   * from the snapshot's cursor makes them again), and the events and incidents are the state's.
   */
  restoreTo(seq: number, events: readonly BlockingEvent[], incidents: readonly Incident[], chronic: readonly ChronicBlock[], cursor: ArchiveCursor | null): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM revisions WHERE seq > ?').run(seq);
      this.db.exec('DELETE FROM events');
      this.applyTx({ revisions: [], events, incidents, chronic, cursor: null });
      if (cursor === null) this.db.prepare("DELETE FROM meta WHERE key = 'cursor'").run();
      else this.stmt.setMeta.run('cursor', JSON.stringify(cursor));
    })();
  }

  /** Forget everything (a reindex rebuilds it from the archive). */
  reset(): void {
    this.db.exec('DELETE FROM events; DELETE FROM revisions; DELETE FROM incidents; DELETE FROM chronic; DELETE FROM meta;');
  }

  events(filter: EventFilter & { open?: boolean } = {}): BlockingEvent[] {
    const rows = this.stmt.events.all(filter.to ?? Number.MAX_SAFE_INTEGER, filter.from ?? Number.MIN_SAFE_INTEGER);
    return rows.map((r) => JSON.parse(r.json) as BlockingEvent).filter((e) => matchesEvent(e, filter));
  }

  /** The open events (not retracted, no end), in start order: an index lookup, cheap enough per request. */
  openEvents(): BlockingEvent[] {
    return this.stmt.openEvents.all().map((r) => JSON.parse(r.json) as BlockingEvent);
  }

  event(id: string): BlockingEvent | null {
    const row = this.stmt.event.get(id);
    return row ? (JSON.parse(row.json) as BlockingEvent) : null;
  }

  /** The revision history of one event, oldest first. */
  revisionsOf(id: string): Revision[] {
    return this.stmt.revisionsOf.all(id).map((r) => JSON.parse(r.json) as Revision);
  }

  /** Revisions after sequence number `seq`, oldest first (the webhook's outbox). */
  revisionsAfter(seq: number, limit: number): Revision[] {
    return this.stmt.revisionsAfter.all(seq, limit).map((r) => JSON.parse(r.json) as Revision);
  }

  lastSeq(): number {
    return this.stmt.lastSeq.get()?.seq ?? 0;
  }

  /** Events open now (not closed, not retracted). */
  openCount(): number {
    return this.stmt.openCount.get()?.n ?? 0;
  }

  /** The last revision the saved detector state had made (what a restart keeps), or null without a snapshot. */
  snapshotSeq(): number | null {
    const row = this.stmt.snapshotSeq.get();
    return row === undefined || row.seq === null ? null : Number(row.seq);
  }

  incidents(filter: IncidentFilter = {}): Incident[] {
    const rows = this.stmt.incidents.all(filter.to ?? Number.MAX_SAFE_INTEGER, filter.from ?? Number.MIN_SAFE_INTEGER);
    return rows.map((r) => JSON.parse(r.json) as Incident).filter((i) => filter.open !== true || i.end === null);
  }

  chronic(): ChronicBlock[] {
    return this.stmt.chronic.all().map((r) => JSON.parse(r.json) as ChronicBlock);
  }

  meta(key: string): string | null {
    return this.stmt.getMeta.get(key)?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.stmt.setMeta.run(key, value);
  }

  close(): void {
    this.db.close();
  }
}
