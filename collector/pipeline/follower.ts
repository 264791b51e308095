// The one shape of every consumer downstream of the archive: it follows the archive with a cursor of its own.
import type { AppendedSpan, ArchivedRecord } from '../storage/archive.js';
import type { RecordDigest } from '../storage/record-digest.js';

/**
 * A follower turns archived measurements into something else (the store's index and aggregates, the
 * InfluxDB series, events, reports). The archive is the source of truth; a follower keeps its own
 * position in it, so that a restart resumes where it stopped and `reindex` is a rewind.
 */
export interface Follower {
  readonly name: string;
  /** Begin following from the follower's own cursor (idempotent). Resolves once it runs. */
  start(): Promise<void>;
  /**
   * Records just appended and fsynced, in archive order, covering `span`. The follower takes them
   * (true) or declines (false) and then finds them in the archive itself. Must not block; throws
   * only on a fault the ingest must answer for (the store's index).
   */
  offer(records: readonly ArchivedRecord[], span: AppendedSpan): boolean;
  /**
   * The same handoff with only the records' digests (an import that parsed them elsewhere). A
   * follower that needs whole records leaves this out: it is not handed such spans and reads them
   * from the archive itself.
   */
  offerDigests?(digests: readonly RecordDigest[], span: AppendedSpan): boolean;
  /** Archived records it has not consumed yet, as far as it knows. */
  backlog(): number;
  /** Forget what it derived and its cursor, so that its next start reads the whole archive (reindex). Only while stopped. */
  rewind(): Promise<void>;
  /** Stop following; what it took is flushed or left to be read again from the archive. */
  stop(): Promise<void>;
}
