// The InfluxDB sink a collector config asks for (none without `influx`), following the given archive with its cursor in the data dir.
import path from 'node:path';
import type { CollectorConfig } from '../../config.js';
import type { Follower } from '../../pipeline/follower.js';
import type { ArchiveReader } from '../../storage/archive.js';
import { InfluxSink, type SinkLogger } from './sink.js';

export function influxFollowers(config: CollectorConfig, archive: ArchiveReader, logger: SinkLogger): Follower[] {
  if (config.influx === null) return [];
  return [
    new InfluxSink({
      ...config.influx,
      stateDir: path.join(config.data_dir, 'influx'),
      source: (from) => archive.read(from),
      logger,
    }),
  ];
}
