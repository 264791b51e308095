// `ashyq-collector reindex`: rebuild the store's index and the blocking events from the archive (the server stopped).
import path from 'node:path';
import { systemClock } from '../../common/clock.js';
import { detectorOptions } from '../app.js';
import { DEFAULT_CONTROL, type CollectorConfig } from '../config.js';
import { ControlHistory } from '../control/history.js';
import { RejudgedArchive } from '../control/rejudge.js';
import { EventFollower } from '../events/follower.js';
import { countedArchive } from '../pipeline/exclusions.js';
import { reindex } from '../pipeline/reindex.js';
import { MeasurementIndexFollower } from '../pipeline/measurement-index-follower.js';
import { StoreIndex } from '../pipeline/store-index.js';
import { MeasurementIndex } from '../storage/measurement-index.js';
import { Archive } from '../storage/archive.js';
import { EventStore } from '../storage/event-store.js';
import { Store } from '../storage/store.js';
import { loadTargetList } from '../targets/list.js';
import type { Output } from './output.js';

/** The control archive, when the collector has one (a collector that never ran the control has none). */
async function openControlArchive(dataDir: string): Promise<Archive | null> {
  try {
    return await Archive.open(path.join(dataDir, 'control'), systemClock, { readonly: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export async function runReindex(config: CollectorConfig, stdout: Output): Promise<number> {
  const store = Store.open(path.join(config.data_dir, 'store.sqlite'));
  const eventStore = EventStore.open(path.join(config.data_dir, 'events.sqlite'));
  const measurementIndex = MeasurementIndex.open(path.join(config.data_dir, 'store.sqlite'));
  try {
    const archive = await Archive.open(path.join(config.data_dir, 'archive'), systemClock);
    try {
      for (const r of archive.recovered) stdout.write(`ashyq-collector: archive ${r.segment}: cut a torn last line (${r.size_before - r.size_after} bytes)\n`);
      // Every record judged again with the control archive (a collector verdict is recomputed, never read back as it was).
      const controlArchive = await openControlArchive(config.data_dir);
      const history = controlArchive === null ? null : await ControlHistory.open(controlArchive, (config.control ?? DEFAULT_CONTROL).window_minutes * 60_000);
      const source = history === null || history.size === 0 ? null : new RejudgedArchive(archive, history, (await loadTargetList(config.targets_file)).byId);
      const read = source ?? archive;
      const index = new StoreIndex(read, store);
      // A revoked probe's measurements from its exclusion on: indexed (known ids) but not counted in the aggregates or the events.
      const events = new EventFollower({ archive: countedArchive(read, store.exclusions()), store: eventStore, clock: systemClock, detector: detectorOptions(config) });
      const measurements = new MeasurementIndexFollower(read, measurementIndex);
      await reindex([index, events, measurements]);
      if (source !== null) measurementIndex.saveRejudged(source.changes);
      const summary = index.caughtUp;
      stdout.write(`ashyq-collector: reindexed ${summary.records} archived records, ${summary.added} distinct measurements\n`);
      if (source === null) stdout.write('ashyq-collector: control: no control measurements archived; the archived verdicts stand\n');
      else {
        const r = source.summary;
        stdout.write(
          `ashyq-collector: control: ${history?.size ?? 0} control measurements; ${r.judged} measurements judged with one, ${r.changed} verdicts changed from the archived ones, ${r.kept} kept as archived (no control found now)\n`,
        );
      }
      stdout.write(`ashyq-collector: measurement index: ${measurementIndex.count()} measurements\n`);
      const excluded = store.exclusions().size;
      if (excluded > 0) stdout.write(`ashyq-collector: ${excluded} revoked probe${excluded === 1 ? '' : 's'}: their measurements from their exclusion on are archived and indexed, not counted in aggregates, series or events\n`);
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
