// Importing archive segments (JSON lines, or gzipped): each record checked as an upload would be, new ids appended to the archive and handed to every follower.
import { stat } from 'node:fs/promises';
import type { Clock } from '../../common/clock.js';
import type { Target } from '../../contract/target.js';
import type { Limits } from '../config.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { Archive } from '../storage/archive.js';
import type { RecordDigest } from '../storage/record-digest.js';
import type { Store } from '../storage/store.js';
import type { ImportProblem, ParseContext, ParsedChunk } from './segment-parse.js';
import { SegmentReader } from './segment-reader.js';

export type { ImportProblem } from './segment-parse.js';

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
  /** Files parsed ahead of the one being appended, each in a worker thread of its own. Default 1. */
  lookahead?: number;
}

/**
 * The same path as a live upload, minus what belongs to a connection (signature, rate, the
 * address): the record's own network attribution is kept; its measurement must pass the same
 * checks, except the age limit (history is what an import is for). Idempotent by measurement id.
 *
 * Parsing and checking take most of the time: each file is parsed in a worker thread, the next
 * `lookahead` files at the same time, while this thread appends the records of the current file
 * in file order and hands their digests to the followers (a follower that needs whole records
 * reads them from the archive).
 */
export class Importer {
  readonly summary: ImportSummary = { files: 0, read: 0, accepted: 0, duplicates: 0, rejected: 0, byCode: {}, problems: [] };
  private readonly chunk: number;
  /** The chunk being appended and handed on, while the next one is read. */
  private inFlight: Promise<void> | null = null;

  constructor(private readonly deps: ImporterDeps) {
    this.chunk = deps.chunk ?? 5000;
  }

  async importFile(file: string): Promise<void> {
    await this.importFiles([file]);
  }

  /** Import `files` in order (each file's records in file order). */
  async importFiles(files: readonly string[]): Promise<void> {
    const lookahead = Math.max(0, this.deps.lookahead ?? 1);
    const ctx: ParseContext = { now: this.deps.clock.now(), maxFutureMs: this.deps.limits.max_future_s * 1000, targets: this.deps.targets };
    const options = { chunk: this.chunk, keepProblems: this.deps.keepProblems ?? 50 };
    const readers: Array<SegmentReader | undefined> = [];
    const open = (i: number): void => {
      if (i < files.length && readers[i] === undefined) readers[i] = new SegmentReader(files[i]!, ctx, options);
    };
    try {
      for (let i = 0; i < files.length; i++) {
        const file = files[i]!;
        const { size } = await stat(file);
        for (let k = i; k <= i + lookahead; k++) open(k);
        await this.importOne(readers[i]!, file, size);
        readers[i] = undefined;
      }
    } finally {
      await Promise.all(readers.map((r) => r?.close()));
    }
  }

  private async importOne(reader: SegmentReader, file: string, size: number): Promise<void> {
    let lastReport = 0;
    this.summary.files++;
    try {
      for await (const chunk of reader.chunks()) {
        this.count(chunk);
        if (chunk.digests.length > 0) await this.commit(chunk);
        if (this.summary.read - lastReport >= 10_000) {
          lastReport = this.summary.read;
          this.deps.onProgress?.({ file, bytes: chunk.bytes, size, summary: this.summary });
        }
      }
    } finally {
      // Whatever was handed to the archive is archived and indexed (or has failed) before this returns.
      await this.settle();
    }
    this.deps.onProgress?.({ file, bytes: size, size, summary: this.summary });
  }

  private count(chunk: ParsedChunk): void {
    const s = this.summary;
    s.read += chunk.read;
    s.rejected += chunk.rejected;
    for (const [code, n] of Object.entries(chunk.byCode)) s.byCode[code] = (s.byCode[code] ?? 0) + n;
    const keep = this.deps.keepProblems ?? 50;
    for (const p of chunk.problems) if (s.problems.length < keep) s.problems.push(p);
  }

  /**
   * New ids only (known to the store, or repeated within the chunk, are duplicates), appended and
   * handed on. The append (write and fsync) goes on while the next chunk is taken: this waits only
   * for the previous chunk, which is indexed before this chunk's ids are looked up.
   */
  private async commit(chunk: ParsedChunk): Promise<void> {
    await this.settle();
    const { digests, data, ends } = chunk;
    const known = this.deps.store.knownMeasurements(digests.map((d) => d.measurement.id));
    let fresh: RecordDigest[] = digests;
    let lines = data;
    let lineEnds: ArrayLike<number> = ends;
    if (known.size > 0 || new Set(digests.map((d) => d.measurement.id)).size < digests.length) {
      fresh = [];
      const parts: Uint8Array[] = [];
      const keptEnds: number[] = [];
      let bytes = 0;
      for (let i = 0; i < digests.length; i++) {
        const d = digests[i]!;
        if (known.has(d.measurement.id)) {
          this.summary.duplicates++;
          continue;
        }
        known.add(d.measurement.id);
        fresh.push(d);
        const line = data.subarray(i === 0 ? 0 : ends[i - 1]!, ends[i]!);
        parts.push(line);
        bytes += line.length;
        keptEnds.push(bytes);
      }
      lines = Buffer.concat(parts, bytes);
      lineEnds = keptEnds;
    }
    if (fresh.length === 0) return;
    const appended = this.deps.archive.appendEncoded(fresh, lines, lineEnds).then((span) => {
      this.deps.pipeline.offerDigests(fresh, span);
      this.summary.accepted += fresh.length;
    });
    appended.catch(() => undefined); // awaited by the next commit or at the end of the file
    this.inFlight = appended;
  }

  /** Wait for the chunk being appended, if any (its failure is thrown here). */
  private async settle(): Promise<void> {
    const inFlight = this.inFlight;
    if (inFlight === null) return;
    try {
      await inFlight;
    } finally {
      if (this.inFlight === inFlight) this.inFlight = null;
    }
  }
}
