// `ashyq-collector reindex`: rebuild the store's index from the archive (the server stopped).
import path from 'node:path';
import { systemClock } from '../../common/clock.js';
import type { CollectorConfig } from '../config.js';
import { reindex } from '../pipeline/reindex.js';
import { Archive } from '../storage/archive.js';
import { Store } from '../storage/store.js';
import type { Output } from './output.js';

export async function runReindex(config: CollectorConfig, stdout: Output): Promise<number> {
  const store = Store.open(path.join(config.data_dir, 'store.sqlite'));
  try {
    const archive = await Archive.open(path.join(config.data_dir, 'archive'), systemClock);
    try {
      for (const r of archive.recovered) stdout.write(`ashyq-collector: archive ${r.segment}: cut a torn last line (${r.size_before - r.size_after} bytes)\n`);
      const summary = await reindex(archive, store);
      stdout.write(`ashyq-collector: reindexed ${summary.records} archived records, ${summary.added} distinct measurements\n`);
    } finally {
      await archive.close();
    }
  } finally {
    store.close();
  }
  return 0;
}

