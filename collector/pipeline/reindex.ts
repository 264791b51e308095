// Reindex: rewind the store's index and replay the whole archive, the source of truth, through it (the server stopped).
import type { Archive } from '../storage/archive.js';
import type { Store } from '../storage/store.js';
import type { CatchUpSummary } from './catch-up.js';
import { StoreIndex } from './store-index.js';

/** Forget the index (probes are kept) and rebuild it from the whole archive. */
export async function reindex(archive: Archive, store: Store): Promise<CatchUpSummary> {
  const index = new StoreIndex(archive, store);
  await index.rewind();
  await index.start();
  await index.stop();
  return index.caughtUp;
}
