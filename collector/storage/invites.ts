// Single-use invites in the store's database: only the secret's SHA-256 is kept, with the operator's note, its expiry and who used it.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { openDatabase } from './sqlite.js';

export interface InviteRow {
  id: string;
  note: string | null;
  created_at: string;
  expires_at: string;
  /** The probe that registered with it, and when; null while unused. */
  used_by: string | null;
  used_at: string | null;
}

/** What redeeming a secret at registration found. */
export type Redemption = { ok: true; invite: InviteRow } | { ok: false; reason: 'unknown' | 'used' | 'expired' };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS invites (
  id TEXT PRIMARY KEY,
  secret_sha256 TEXT NOT NULL UNIQUE,
  note TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_by TEXT,
  used_at TEXT
) WITHOUT ROWID;
`;

export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Invites on their own connection to the store's SQLite file (WAL: `ashyq-collector invite` adds
 * one while the server runs). A secret is redeemed once: by the first probe that registers with it,
 * which may register again with it (a retry) while no other probe can.
 */
export class Invites {
  private readonly db: Database.Database;

  private constructor(file: string) {
    this.db = openDatabase(file, SCHEMA, 'FULL');
  }

  static open(file: string): Invites {
    return new Invites(file);
  }

  add(invite: { id: string; secret: string; note: string | null; created_at: string; expires_at: string }): void {
    this.db
      .prepare('INSERT INTO invites (id, secret_sha256, note, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(invite.id, secretDigest(invite.secret), invite.note, invite.created_at, invite.expires_at);
  }

  /** Mark the invite of `secret` used by `probeId` at `at`, unless another probe used it or it expired. */
  redeem(secret: string, probeId: string, at: string): Redemption {
    return this.db.transaction((): Redemption => {
      const row = this.db
        .prepare('SELECT id, note, created_at, expires_at, used_by, used_at FROM invites WHERE secret_sha256 = ?')
        .get(secretDigest(secret)) as InviteRow | undefined;
      if (row === undefined) return { ok: false, reason: 'unknown' };
      if (row.used_by !== null) return row.used_by === probeId ? { ok: true, invite: row } : { ok: false, reason: 'used' };
      if (Date.parse(row.expires_at) <= Date.parse(at)) return { ok: false, reason: 'expired' };
      this.db.prepare('UPDATE invites SET used_by = ?, used_at = ? WHERE id = ?').run(probeId, at, row.id);
      return { ok: true, invite: { ...row, used_by: probeId, used_at: at } };
    })();
  }

  list(): InviteRow[] {
    return this.db.prepare('SELECT id, note, created_at, expires_at, used_by, used_at FROM invites ORDER BY created_at, id').all() as InviteRow[];
  }

  close(): void {
    this.db.close();
  }
}
