// One way to open the collector's SQLite files: WAL, the durability each asks for, a wait on a busy lock, its schema.
import Database from 'better-sqlite3';

/** `synchronous`: FULL where an answer to a probe depends on the write (ids, probes, invites), NORMAL for what a reindex rebuilds. */
export function openDatabase(file: string, schema: string, synchronous: 'FULL' | 'NORMAL'): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  return db;
}
