// Importing archive segments (JSON lines, or gzipped): each record checked as an upload would be, new ids appended to the archive and handed to every follower.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Clock } from '../../common/clock.js';
import type { Target } from '../../contract/target.js';
import type { Limits } from '../config.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Archive, ArchivedRecord } from '../storage/archive.js';
import type { Store } from '../storage/store.js';
import { validateArchivedRecord } from './validate.js';

/** A line that could not be imported: where it is and why. */
export interface ImportProblem {
  file: string;
  line: number;
  id: string | null;
  code: string;
  reason: string;
}

export interface ImportSummary {
  files: number;
  /** Lines read (blank lines are not counted). */
  read: number;
  /** New measurements, appended to the archive and handed to the followers. */
  accepted: number;
  /** Ids the collector had already (imported before, or uploaded live): skipped. */
  duplicates: number;
  rejected: number;
  /** Rejections by code. */
  byCode: Record<string, number>;
  /** The first problems, each with its file and line. */
  problems: ImportProblem[];
}

export interface ImportProgress {
  file: string;
  /** Bytes of the file read so far (compressed bytes for a .gz), and its size. */
  bytes: number;
  size: number;
  summary: ImportSummary;
}

export interface ImporterDeps {
  archive: Archive;
  store: Store;
  pipeline: Pipeline;
  targets: ReadonlyMap<string, Target>;
  limits: Limits;
  clock: Clock;
  onProgress?: (progress: ImportProgress) => void;
  /** Records appended per archive write (one fsync each). Default 5000. */
  chunk?: number;
  /** Problems kept with their place. Default 50. */
  keepProblems?: number;
}

/**
 * The same path as a live upload, minus what belongs to a connection (signature, rate, the
 * address): the record's own network attribution is kept; its measurement must pass the same
 * checks, except the age limit (history is what an import is for). Idempotent by measurement id.
 */
export class Importer {
  readonly summary: ImportSummary = { files: 0, read: 0, accepted: 0, duplicates: 0, rejected: 0, byCode: {}, problems: [] };
  private readonly chunk: number;

  constructor(private readonly deps: ImporterDeps) {
    this.chunk = deps.chunk ?? 5000;
  }

  async importFile(file: string): Promise<void> {
    const { size } = await stat(file);
    let bytes = 0;
    const counter = new Transform({
      transform(data: Buffer, _enc, done) {
        bytes += data.length;
        done(null, data);
      },
    });
    let input: NodeJS.ReadableStream = createReadStream(file).pipe(counter);
    if (file.endsWith('.gz')) input = input.pipe(createGunzip());
    const lines = createInterface({ input, crlfDelay: Infinity });
    const ctx = { now: this.deps.clock.now(), maxAgeMs: Number.POSITIVE_INFINITY, maxFutureMs: this.deps.limits.max_future_s * 1000, targets: this.deps.targets };
    let pending: ArchivedRecord[] = [];
    let lineNo = 0;
    let lastReport = 0;
    this.summary.files++;
    for await (const text of lines) {
      lineNo++;
      if (text.trim() === '') continue;
      this.summary.read++;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        this.reject({ file, line: lineNo, id: null, code: 'bad_json', reason: `not JSON: ${(err as Error).message}` });
        continue;
      }
      const v = validateArchivedRecord(value, ctx);
      if (!v.ok) {
        this.reject({ file, line: lineNo, id: v.id, code: v.code, reason: v.reason });
        continue;
      }
      pending.push(v.record);
      if (pending.length >= this.chunk) {
        await this.commit(pending);
        pending = [];
      }
      if (this.summary.read - lastReport >= 10_000) {
        lastReport = this.summary.read;
        this.deps.onProgress?.({ file, bytes, size, summary: this.summary });
      }
    }
    if (pending.length > 0) await this.commit(pending);
    this.deps.onProgress?.({ file, bytes: size, size, summary: this.summary });
  }

  private reject(problem: ImportProblem): void {
    this.summary.rejected++;
    this.summary.byCode[problem.code] = (this.summary.byCode[problem.code] ?? 0) + 1;
    if (this.summary.problems.length < (this.deps.keepProblems ?? 50)) this.summary.problems.push(problem);
  }

  /** New ids only (known to the store, or repeated within the chunk, are duplicates), appended and handed on. */
  private async commit(records: readonly ArchivedRecord[]): Promise<void> {
    const known = this.deps.store.knownMeasurements(records.map((r) => r.measurement.id));
    const fresh: ArchivedRecord[] = [];
    for (const r of records) {
      if (known.has(r.measurement.id)) {
        this.summary.duplicates++;
        continue;
      }
      known.add(r.measurement.id);
      fresh.push(r);
    }
    if (fresh.length === 0) return;
    const span = await this.deps.archive.append(fresh);
    this.deps.pipeline.offer(fresh, span);
    this.summary.accepted += fresh.length;
  }
}
