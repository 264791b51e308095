// Reindex's view of the archive: every record judged again with the control archive, as ingest would judge it today.
import type { Target } from '../../contract/target.js';
import type { ArchiveCursor, ArchivedRecord, ArchiveReader, CollectorJudgement } from '../storage/archive.js';
import type { ControlHistory } from './history.js';
import { reclassify } from './reclassify.js';

/** What re-judging changed: records whose collector verdict is not the one archived. */
export interface RejudgeSummary {
  /** Records read (the first pass). */
  records: number;
  /** Records judged with a control. */
  judged: number;
  /** Records whose judgement differs from the archived one (a new verdict, a judgement added or dropped). */
  changed: number;
  /** Records whose archived judgement is kept because its control is not in the control archive, or its target not in the list. */
  kept: number;
}

function sameJudgement(a: CollectorJudgement | undefined, b: CollectorJudgement | null): boolean {
  if (a === undefined || b === null) return a === undefined && b === null;
  return a.control_id === b.control_id && JSON.stringify(a.verdict) === JSON.stringify(b.verdict);
}

function withJudgement(record: ArchivedRecord, j: CollectorJudgement | null): ArchivedRecord {
  const { collector: _dropped, ...rest } = record;
  // The envelope's order: the judgement before the measurement (as ingest writes it).
  const { measurement, ...head } = rest;
  return j === null ? { ...head, measurement } : { ...head, collector: j, measurement };
}

/**
 * The archive as reindex replays it: each record's collector verdict recomputed with the nearest
 * control in the control archive (the classifier of this version, the target list of the config).
 * A record judged when archived for which no control is found now (its target no longer listed, its
 * control gone from the control archive) keeps what the archive says. The first read judges; later reads (the next
 * followers) reuse what it changed, so the classifier runs once per record.
 */
export class RejudgedArchive {
  readonly summary: RejudgeSummary = { records: 0, judged: 0, changed: 0, kept: 0 };
  /** Id → the new judgement (null: none), for every record whose judgement changed. */
  readonly changes = new Map<string, CollectorJudgement | null>();
  #judged = false;

  constructor(
    private readonly archive: ArchiveReader,
    private readonly history: ControlHistory,
    private readonly targets: ReadonlyMap<string, Target>,
  ) {}

  async *read(from?: ArchiveCursor): AsyncIterable<{ record: ArchivedRecord; next: ArchiveCursor }> {
    const judging = !this.#judged && from === undefined;
    for await (const { record, next } of this.archive.read(from)) {
      if (judging) {
        yield { record: await this.judge(record), next };
        continue;
      }
      const change = this.changes.get(record.measurement.id);
      yield { record: change === undefined ? record : withJudgement(record, change), next };
    }
    if (judging) this.#judged = true;
  }

  private async judge(record: ArchivedRecord): Promise<ArchivedRecord> {
    const s = this.summary;
    s.records++;
    const m = record.measurement;
    const target = this.targets.get(m.target.id);
    const control = target === undefined || m.verdict.verdict === 'offline' ? null : await this.history.nearest(m.target.id, Date.parse(m.started_at));
    // No control to judge with now (its target unlisted, the control archive without it): the archived judgement stands.
    if (control === null && record.collector !== undefined) {
      s.kept++;
      return record;
    }
    const r = reclassify(m, target, control);
    const j = r.control_id === null ? null : { verdict: r.verdict, control_id: r.control_id };
    if (j !== null) s.judged++;
    if (sameJudgement(record.collector, j)) return record;
    s.changed++;
    this.changes.set(m.id, j);
    return withJudgement(record, j);
  }
}
