// Reading the archive from a follower's cursor to its end, in chunks, for followers that apply records synchronously.
import type { ArchiveReader, ArchiveCursor, ArchivedRecord } from '../storage/archive.js';

export interface CatchUpSummary {
  /** Archive records read. */
  records: number;
  /** Of those, what the follower counted as new (e.g. measurements not indexed before). */
  added: number;
}

/** Hand every durable record after `from` (all when null) to `apply`, `chunk` at a time, each chunk with the cursor after it. */
export async function catchUp(
  archive: ArchiveReader,
  from: ArchiveCursor | null,
  apply: (records: readonly ArchivedRecord[], cursor: ArchiveCursor) => number,
  chunk = 2000,
): Promise<CatchUpSummary> {
  let records = 0;
  let added = 0;
  let pending: ArchivedRecord[] = [];
  let cursor: ArchiveCursor | null = null;
  for await (const { record, next } of archive.read(from ?? undefined)) {
    pending.push(record);
    cursor = next;
    if (pending.length >= chunk) {
      records += pending.length;
      added += apply(pending, cursor);
      pending = [];
    }
  }
  if (cursor !== null) {
    records += pending.length;
    added += apply(pending, cursor);
  }
  return { records, added };
}
