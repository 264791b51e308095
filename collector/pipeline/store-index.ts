// The store's index as a follower: measurement ids (for duplicates), probes' last-seen times and the 10-minute aggregates.
import type { AppendedSpan, ArchiveReader, ArchivedRecord } from '../storage/archive.js';
import type { RecordDigest } from '../storage/record-digest.js';
import type { Store } from '../storage/store.js';
import { catchUp, type CatchUpSummary } from './catch-up.js';
import type { Follower } from './follower.js';

/**
 * The first follower, and the only one ingest depends on: a batch is acknowledged only once its
 * records are indexed, so a repeated id is answered `duplicate`. Its offers are applied at once in
 * one SQLite transaction with the cursor (and the probes' last-seen times noted by `touch`); a
 * failure is thrown to the ingest, which then fails the batch.
 */
export class StoreIndex implements Follower {
  readonly name = 'store';
  private touches = new Map<string, string>();
  /** What the last start found in the archive past the store's cursor. */
  caughtUp: CatchUpSummary = { records: 0, added: 0 };

  constructor(
    private readonly archive: ArchiveReader,
    readonly store: Store,
  ) {}

  /** Index what the archive holds past the store's cursor (a crash between fsync and commit leaves some). */
  async start(): Promise<void> {
    this.caughtUp = await catchUp(this.archive, this.store.cursor(), (records, cursor) => this.store.apply(records, cursor));
  }

  /** A probe was seen at `at`: saved with the next offer (or `flush`). */
  touch(probeId: string, at: string): void {
    this.touches.set(probeId, at);
  }

  offer(records: readonly ArchivedRecord[], span: AppendedSpan): boolean {
    return this.offerDigests(records, span);
  }

  offerDigests(digests: readonly RecordDigest[], span: AppendedSpan): boolean {
    this.store.apply(digests, span.to, this.takeTouches());
    return true;
  }

  /** Save noted touches when a group brought no new records. */
  flush(): void {
    if (this.touches.size > 0) this.store.apply([], null, this.takeTouches());
  }

  backlog(): number {
    return 0;
  }

  async rewind(): Promise<void> {
    this.store.resetIndex();
  }

  async stop(): Promise<void> {
    this.flush();
  }

  private takeTouches(): Array<[string, string]> {
    const out = [...this.touches];
    this.touches = new Map();
    return out;
  }
}
