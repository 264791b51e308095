// The followers of the archive in order: started first to last, stopped last to first, each handed every appended span.
import type { AppendedSpan, ArchivedRecord } from '../storage/archive.js';
import type { RecordDigest } from '../storage/record-digest.js';
import type { Follower } from './follower.js';
import type { StoreIndex } from './store-index.js';

export interface PipelineLog {
  warn(obj: object, message: string): void;
}

/**
 * The store's index comes first: ingest depends on it, so its faults are thrown. Every other
 * follower is handed the records after it; a follower that throws is logged and finds the records
 * in the archive itself.
 */
export class Pipeline {
  readonly followers: readonly Follower[];
  private started: Follower[] = [];

  constructor(
    readonly index: StoreIndex,
    others: readonly Follower[],
    private readonly log: PipelineLog,
  ) {
    this.followers = [index, ...others];
  }

  /** Start every follower in order (the index is caught up with the archive when this resolves). */
  async start(): Promise<void> {
    for (const follower of this.followers) {
      await follower.start();
      this.started.push(follower);
    }
  }

  offer(records: readonly ArchivedRecord[], span: AppendedSpan): void {
    this.index.offer(records, span);
    for (let i = 1; i < this.followers.length; i++) {
      const follower = this.followers[i]!;
      try {
        follower.offer(records, span);
      } catch (err) {
        this.log.warn({ err, follower: follower.name }, 'a follower failed to take a handoff (it reads the archive)');
      }
    }
  }

  /** Digests of records just appended: to the index and the followers that take digests (the others read the archive). */
  offerDigests(digests: readonly RecordDigest[], span: AppendedSpan): void {
    this.index.offerDigests(digests, span);
    for (let i = 1; i < this.followers.length; i++) {
      const follower = this.followers[i]!;
      if (follower.offerDigests === undefined) continue;
      try {
        follower.offerDigests(digests, span);
      } catch (err) {
        this.log.warn({ err, follower: follower.name }, 'a follower failed to take a handoff (it reads the archive)');
      }
    }
  }

  /** Stop the started followers, last first. */
  async stop(): Promise<void> {
    const started = this.started;
    this.started = [];
    for (const follower of started.reverse()) await follower.stop();
  }
}
