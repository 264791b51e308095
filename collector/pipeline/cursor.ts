// A follower's persisted archive cursor (e.g. after the last record InfluxDB acknowledged), replaced atomically.
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { replaceFile } from '../../common/durable.js';
import type { ArchiveCursor } from '../storage/archive.js';

/** Order of two archive positions: negative when a is before b (segments are 'YYYY-MM-DD' days). */
export function compareCursors(a: ArchiveCursor, b: ArchiveCursor): number {
  if (a.segment !== b.segment) return a.segment < b.segment ? -1 : 1;
  return a.offset - b.offset;
}

function isCursor(value: unknown): value is ArchiveCursor {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.segment === 'string' && typeof v.offset === 'number' && Number.isSafeInteger(v.offset) && v.offset >= 0;
}

export type CursorLoad =
  | { kind: 'none' }
  | { kind: 'cursor'; cursor: ArchiveCursor }
  /** The file exists but is not a cursor: the sink starts over (replay is idempotent) and says so. */
  | { kind: 'unreadable'; problem: string };

/** `<stateDir>/<name>.cursor.json`, written as tmp + fsync + rename + directory fsync. */
export class CursorFile {
  readonly file: string;

  constructor(
    private readonly dir: string,
    name: string,
  ) {
    this.file = path.join(dir, `${name}.cursor.json`);
  }

  async load(): Promise<CursorLoad> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
      throw err;
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (isCursor(parsed)) return { kind: 'cursor', cursor: { segment: parsed.segment, offset: parsed.offset } };
      return { kind: 'unreadable', problem: 'not a {segment, offset} object' };
    } catch (err) {
      return { kind: 'unreadable', problem: (err as Error).message };
    }
  }

  /** Remove the stored cursor (a rewind): the follower starts again from the archive's beginning. */
  async remove(): Promise<void> {
    await rm(this.file, { force: true });
  }

  /** Durably replace the stored cursor; a crash leaves either the old or the new one, never a torn file. */
  async save(cursor: ArchiveCursor): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const text = `${JSON.stringify({ segment: cursor.segment, offset: cursor.offset })}\n`;
    await replaceFile(this.dir, path.basename(this.file), Buffer.from(text, 'utf8'), { mode: 0o644 });
  }

}
