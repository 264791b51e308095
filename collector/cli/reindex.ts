// `ashyq-collector reindex`: rebuild the store's index and the blocking events from the archive (the server stopped).
import path from 'node:path';
import { systemClock } from '../../common/clock.js';
import { detectorOptions } from '../app.js';
import type { CollectorConfig } from '../config.js';
import { EventFollower } from '../events/follower.js';
import { reindex } from '../pipeline/reindex.js';
import { MeasurementIndexFollower } from '../pipeline/measurement-index-follower.js';
import { StoreIndex } from '../pipeline/store-index.js';
import { MeasurementIndex } from '../storage/measurement-index.js';
import { Archive } from '../storage/archive.js';
import { EventStore } from '../storage/event-store.js';
import { Store } from '../storage/store.js';
import type { Output } from './output.js';

export async function runReindex(config: CollectorConfig, stdout: Output): Promise<number> {
  const store = Store.open(path.join(config.data_dir, 'store.sqlite'));
  const eventStore = EventStore.open(path.join(config.data_dir, 'events.sqlite'));
  const measurementIndex = MeasurementIndex.open(path.join(config.data_dir, 'store.sqlite'));
  try {
    const archive = await Archive.open(path.join(config.data_dir, 'archive'), systemClock);
    try {
      for (const r of archive.recovered) stdout.write(`ashyq-collector: archive ${r.segment}: cut a torn last line (${r.size_before - r.size_after} bytes)\n`);
      const index = new StoreIndex(archive, store);
      const events = new EventFollower({ archive, store: eventStore, clock: systemClock, detector: detectorOptions(config) });
      const measurements = new MeasurementIndexFollower(archive, measurementIndex);
      await reindex([index, events, measurements]);
      const summary = index.caughtUp;
      stdout.write(`ashyq-collector: reindexed ${summary.records} archived records, ${summary.added} distinct measurements\n`);
      stdout.write(`ashyq-collector: measurement index: ${measurementIndex.count()} measurements\n`);
      stdout.write(`ashyq-collector: ${eventStore.events().length} blocking events, ${eventStore.incidents().length} incidents, ${eventStore.chronic().length} chronic blocks\n`);
    } finally {
      await archive.close();
    }
  } finally {
    measurementIndex.close();
    eventStore.close();
    store.close();
  }
  return 0;
}
