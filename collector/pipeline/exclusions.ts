// The counting followers' view of the archive: a revoked probe's measurements from its exclusion on are skipped (see storage/exclusions.ts).
import type { AppendedSpan, ArchiveCursor, ArchivedRecord, ArchiveReader } from '../storage/archive.js';
import type { ProbeExclusions } from '../storage/exclusions.js';
import type { RecordDigest } from '../storage/record-digest.js';
import type { Follower } from './follower.js';

/** The archive as the counting followers read it: records that do not count are skipped (a follower's cursor moves past them with the next record that counts). */
export function countedArchive(archive: ArchiveReader, exclusions: ProbeExclusions): ArchiveReader {
  if (exclusions.size === 0) return archive;
  return {
    async *read(from?: ArchiveCursor): AsyncIterable<{ record: ArchivedRecord; next: ArchiveCursor }> {
      for await (const item of archive.read(from)) if (exclusions.counts(item.record.probe_id, item.record.measurement.started_at)) yield item;
    },
  };
}

/** A follower that is offered only the records that count (it reads the archive through countedArchive itself). */
export function countingFollower(inner: Follower, exclusions: ProbeExclusions): Follower {
  if (exclusions.size === 0) return inner;
  const wrapped: Follower = {
    name: inner.name,
    start: () => inner.start(),
    offer: (records: readonly ArchivedRecord[], span: AppendedSpan) => inner.offer(exclusions.keep(records), span),
    backlog: () => inner.backlog(),
    rewind: () => inner.rewind(),
    stop: () => inner.stop(),
  };
  const digests = inner.offerDigests?.bind(inner);
  if (digests !== undefined) wrapped.offerDigests = (list: readonly RecordDigest[], span: AppendedSpan) => digests(exclusions.keep(list), span);
  return wrapped;
}
