// Rebuilds the store's index (measurement ids, aggregates) from the archive, the source of truth.
import type { Archive, ArchiveCursor, ArchivedRecord } from './archive.js';
import type { Store } from './store.js';

export interface IndexSummary {
  /** Archive records read. */
  records: number;
  /** Of those, measurements new to the store (the rest repeat an id already indexed). */
  added: number;
}

/** Index every archive record after the store's cursor (all of them when it has none). */
export async function catchUp(archive: Archive, store: Store, chunk = 2000): Promise<IndexSummary> {
  const from = store.cursor() ?? undefined;
  let records = 0;
  let added = 0;
  let pending: ArchivedRecord[] = [];
  let cursor: ArchiveCursor | null = null;
  for await (const { record, next } of archive.read(from)) {
    pending.push(record);
    cursor = next;
    if (pending.length >= chunk) {
      records += pending.length;
      added += store.apply(pending, cursor);
      pending = [];
    }
  }
  if (cursor !== null) {
    records += pending.length;
    added += store.apply(pending, cursor);
  }
  return { records, added };
}

/** Forget the index and rebuild it from the whole archive (probes are kept). Run with the server stopped. */
export async function reindex(archive: Archive, store: Store): Promise<IndexSummary> {
  store.resetIndex();
  return catchUp(archive, store);
}
