// The measurement index as a follower of the archive: every record indexed with where its line starts, from its own cursor.
import type { AppendedSpan, ArchiveReader, ArchiveCursor, ArchivedRecord } from '../storage/archive.js';
import { rowOf } from '../storage/index-row.js';
import type { MeasurementIndex } from '../storage/measurement-index.js';
import type { RecordDigest } from '../storage/record-digest.js';
import type { Follower } from './follower.js';

export interface MeasurementIndexLog {
  error(message: string): void;
}

/** Records indexed per transaction when reading the archive. */
const CHUNK = 2000;

function sameCursor(a: ArchiveCursor | null, b: ArchiveCursor): boolean {
  return a !== null && a.segment === b.segment && a.offset === b.offset;
}

/**
 * Synchronous like the store's index: an offer that continues from the follower's cursor and says
 * where each record starts is indexed before it returns. Anything else (a gap after a failure, a
 * span without positions) puts it behind: it declines offers and reads the archive from its cursor
 * until it has caught up. The index is idempotent by id, so reading a record twice is harmless.
 */
export class MeasurementIndexFollower implements Follower {
  readonly name = 'measurement-index';
  private position: ArchiveCursor | null = null;
  private running = false;
  private resyncing: Promise<void> | null = null;
  private declined = 0;
  /** Records read from the archive by the last catch-up (start or resync). */
  readRecords = 0;

  constructor(
    private readonly archive: ArchiveReader,
    readonly index: MeasurementIndex,
    private readonly log: MeasurementIndexLog = { error: (m) => console.error(`measurement index: ${m}`) },
  ) {}

  async start(): Promise<void> {
    if (this.running) return;
    this.position = this.index.cursor();
    await this.catchUp();
    this.running = true;
  }

  offer(records: readonly ArchivedRecord[], span: AppendedSpan): boolean {
    return this.take(records.length, span, true, (starts) =>
      this.index.apply(
        records.map((record, i) => ({ record, at: starts[i]! })),
        span.to,
      ),
    );
  }

  /** Digests of an import carry what their rows need beyond the digest: indexed like an offer of the records; without it, read from the archive. */
  offerDigests(digests: readonly RecordDigest[], span: AppendedSpan): boolean {
    return this.take(digests.length, span, digests.every((d) => d.index !== undefined), (starts) =>
      this.index.applyRows(
        digests.map((d, i) => ({ row: rowOf(d, d.index!, starts[i]!), network: d.network })),
        span.to,
      ),
    );
  }

  /**
   * Index `count` records appended as `span` with `apply` when they continue from the cursor and the
   * span says where each starts (and `usable`); otherwise, or when `apply` fails, read the archive.
   */
  private take(count: number, span: AppendedSpan, usable: boolean, apply: (starts: readonly ArchiveCursor[]) => void): boolean {
    if (!this.running) return false;
    if (this.resyncing !== null) {
      this.declined++;
      return false;
    }
    if (count === 0) return true;
    const starts = span.starts;
    // Or the first line of a later day (appends never go back to an earlier one), or of an archive that was empty.
    const continues =
      sameCursor(this.position, span.from) || (span.from.offset === 0 && (this.position === null || span.from.segment > this.position.segment));
    if (!continues || !usable || starts === undefined || starts.length !== count) {
      this.resync();
      return false;
    }
    try {
      apply(starts);
      this.position = span.to;
      return true;
    } catch (err) {
      this.log.error(`indexing measurements failed (reading them from the archive again): ${(err as Error).message}`);
      this.resync();
      return false;
    }
  }

  backlog(): number {
    return this.resyncing !== null ? Math.max(1, this.declined) : 0;
  }

  async rewind(): Promise<void> {
    this.index.reset();
    this.position = null;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.resyncing;
  }

  /** Read from the cursor to the end of the archive, again while offers were declined meanwhile. */
  private resync(): void {
    if (this.resyncing !== null) return;
    this.declined = 1;
    this.resyncing = (async () => {
      try {
        while (this.declined > 0) {
          this.declined = 0;
          await this.catchUp();
        }
      } catch (err) {
        this.log.error(`reading the archive failed: ${(err as Error).message}`);
      } finally {
        this.resyncing = null;
      }
    })();
  }

  private async catchUp(): Promise<void> {
    let pending: Array<{ record: ArchivedRecord; at: ArchiveCursor }> = [];
    let at: ArchiveCursor = this.position ?? { segment: '', offset: 0 };
    let read = 0;
    for await (const { record, next } of this.archive.read(this.position ?? undefined)) {
      // A new segment starts at offset 0.
      if (at.segment !== next.segment) at = { segment: next.segment, offset: 0 };
      pending.push({ record, at });
      at = next;
      read++;
      if (pending.length >= CHUNK) {
        this.index.apply(pending, next);
        this.position = next;
        pending = [];
      }
    }
    if (pending.length > 0) {
      this.index.apply(pending, at);
      this.position = at;
    }
    this.readRecords = read;
  }
}
