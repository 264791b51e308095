// Importing archive segments (JSON lines, or gzipped): each record checked as an upload would be, new ids appended to the archive and handed to every follower.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { Clock } from '../../common/clock.js';
import type { Target } from '../../contract/target.js';
import type { Limits } from '../config.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { recordEnvelope, type Archive, type ArchivedRecord } from '../storage/archive.js';
import type { Store } from '../storage/store.js';
import { validateArchivedRecord } from './validate.js';

/** Bytes read from a file (and gunzipped) at a time. */
const READ_CHUNK = 1024 * 1024;
const CR = 0x0d;
const CLOSE_BRACE = 0x7d;

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
  /** The chunk being appended and handed on, while the next one is read. */
  private inFlight: Promise<void> | null = null;

  constructor(private readonly deps: ImporterDeps) {
    this.chunk = deps.chunk ?? 5000;
  }

  async importFile(file: string): Promise<void> {
    const { size } = await stat(file);
    let bytes = 0;
    const source = createReadStream(file, { highWaterMark: READ_CHUNK });
    source.on('data', (data) => (bytes += data.length));
    let input: AsyncIterable<Buffer> = source;
    if (file.endsWith('.gz')) {
      const gunzip = createGunzip({ chunkSize: READ_CHUNK });
      source.on('error', (err) => gunzip.destroy(err));
      input = source.pipe(gunzip);
    }
    const ctx = { now: this.deps.clock.now(), maxAgeMs: Number.POSITIVE_INFINITY, maxFutureMs: this.deps.limits.max_future_s * 1000, targets: this.deps.targets };
    let pending: ArchivedRecord[] = [];
    let texts: Array<string | null> = [];
    let lineNo = 0;
    let lastReport = 0;
    this.summary.files++;
    try {
      for await (const text of lines(input)) {
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
        texts.push(measurementText(text, v.record));
        if (pending.length >= this.chunk) {
          await this.commit(pending, texts);
          pending = [];
          texts = [];
        }
        if (this.summary.read - lastReport >= 10_000) {
          lastReport = this.summary.read;
          this.deps.onProgress?.({ file, bytes, size, summary: this.summary });
        }
      }
      if (pending.length > 0) await this.commit(pending, texts);
    } finally {
      // Whatever was handed to the archive is archived and indexed (or has failed) before this returns.
      await this.settle();
    }
    this.deps.onProgress?.({ file, bytes: size, size, summary: this.summary });
  }

  private reject(problem: ImportProblem): void {
    this.summary.rejected++;
    this.summary.byCode[problem.code] = (this.summary.byCode[problem.code] ?? 0) + 1;
    if (this.summary.problems.length < (this.deps.keepProblems ?? 50)) this.summary.problems.push(problem);
  }

  /**
   * New ids only (known to the store, or repeated within the chunk, are duplicates), appended and
   * handed on. The append (write and fsync) goes on while the next chunk is read: this waits only
   * for the previous chunk, which is indexed before this chunk's ids are looked up.
   */
  private async commit(records: readonly ArchivedRecord[], texts: ReadonlyArray<string | null>): Promise<void> {
    await this.settle();
    const known = this.deps.store.knownMeasurements(records.map((r) => r.measurement.id));
    const fresh: ArchivedRecord[] = [];
    const freshTexts: Array<string | null> = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (known.has(r.measurement.id)) {
        this.summary.duplicates++;
        continue;
      }
      known.add(r.measurement.id);
      fresh.push(r);
      freshTexts.push(texts[i] ?? null);
    }
    if (fresh.length === 0) return;
    const appended = this.deps.archive.append(fresh, freshTexts).then((span) => {
      this.deps.pipeline.offer(fresh, span);
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

/**
 * The measurement's own text in a record's line, when the line is the record's envelope exactly as
 * the archive writes it followed by the measurement and `}` (what the archive and the simulator
 * write): the archive then writes back the very line it was given (which parsed to this record)
 * instead of serialising the parsed value again. Null otherwise.
 */
function measurementText(line: string, record: ArchivedRecord): string | null {
  const envelope = recordEnvelope(record);
  if (line.length <= envelope.length + 1 || !line.startsWith(envelope) || line.charCodeAt(line.length - 1) !== CLOSE_BRACE) return null;
  return line.slice(envelope.length, line.length - 1);
}

/** The lines of UTF-8 text split at LF (a CR before it is dropped), the last one even without a final LF. */
async function* lines(input: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of input) {
    const text = rest + decoder.write(chunk);
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl >= 0) {
      yield text.charCodeAt(nl - 1) === CR && nl > start ? text.slice(start, nl - 1) : text.slice(start, nl);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    rest = text.slice(start);
  }
  rest += decoder.end();
  if (rest !== '') yield rest.charCodeAt(rest.length - 1) === CR ? rest.slice(0, -1) : rest;
}
