// One segment's lines checked as an upload's would be, in chunks: the digests of the valid records, their archive lines encoded, and the problems by file and line.
import { isUtf8 } from 'node:buffer';
import type { Target } from '../../contract/target.js';
import { recordEnvelope, type ArchivedRecord } from '../storage/archive.js';
import { extrasOf } from '../storage/index-row.js';
import { digestOf, type RecordDigest } from '../storage/record-digest.js';
import { segmentLines } from './segment-lines.js';
import { validateArchivedRecord } from './validate.js';

const CLOSE_BRACE = 0x7d;

/** A line that could not be imported: where it is and why. */
export interface ImportProblem {
  file: string;
  line: number;
  id: string | null;
  code: string;
  reason: string;
}

/** What a segment's parse knows to check against (the collector's targets and limits, its present). */
export interface ParseContext {
  now: number;
  maxFutureMs: number;
  targets: ReadonlyMap<string, Target>;
}

export interface ParseOptions {
  /** Lines per chunk. */
  chunk: number;
  /** Problems kept with their place, per chunk. */
  keepProblems: number;
}

/** A chunk of a segment: `data` holds the valid records' archive lines, `ends[i]` the offset after line i. */
export interface ParsedChunk {
  digests: RecordDigest[];
  data: Uint8Array;
  ends: Uint32Array;
  /** Lines read in this chunk (blank lines not counted), and those rejected, by code. */
  read: number;
  rejected: number;
  byCode: Record<string, number>;
  problems: ImportProblem[];
  /** Bytes of the file read so far (compressed bytes for a .gz). */
  bytes: number;
}

/** Growing output of one chunk's lines. */
class LineBuffer {
  private buf: Buffer;
  private size = 0;
  readonly ends: number[] = [];

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafeSlow(capacity);
  }

  push(line: string): void {
    this.reserve(3 * line.length + 1);
    this.size += this.buf.write(line, this.size, 'utf8');
    this.end();
  }

  /** A line as it was read: `source[start, end)`, valid UTF-8. */
  pushBytes(source: Buffer, start: number, end: number): void {
    this.reserve(end - start + 1);
    this.size += source.copy(this.buf, this.size, start, end);
    this.end();
  }

  private reserve(bytes: number): void {
    const need = this.size + bytes;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, 2 * this.buf.length));
      this.buf.copy(grown, 0, 0, this.size);
      this.buf = grown;
    }
  }

  private end(): void {
    this.buf[this.size++] = 0x0a;
    this.ends.push(this.size);
  }

  /** The bytes written, in an ArrayBuffer of their own (transferable). */
  take(): { data: Uint8Array; ends: Uint32Array } {
    const data = new Uint8Array(this.size);
    data.set(this.buf.subarray(0, this.size));
    return { data, ends: Uint32Array.from(this.ends) };
  }
}

/**
 * Parse `file` chunk by chunk; `emit` may wait (backpressure: reading stops until it resolves).
 * Read or decompression faults are thrown; bad lines are problems.
 */
export async function parseSegment(file: string, ctx: ParseContext, options: ParseOptions, emit: (chunk: ParsedChunk) => Promise<void>): Promise<void> {
  const check = { now: ctx.now, maxAgeMs: Number.POSITIVE_INFINITY, maxFutureMs: ctx.maxFutureMs, targets: ctx.targets };
  let bytes = 0;
  let lineNo = 0;
  let chunk = fresh(options.chunk);
  const reject = (problem: ImportProblem): void => {
    chunk.rejected++;
    chunk.byCode[problem.code] = (chunk.byCode[problem.code] ?? 0) + 1;
    if (chunk.problems.length < options.keepProblems) chunk.problems.push(problem);
  };
  const flush = async (): Promise<void> => {
    const { data, ends } = chunk.lines.take();
    const { lines: _lines, ...rest } = chunk;
    await emit({ ...rest, data, ends, bytes });
    chunk = fresh(options.chunk);
  };
  for await (const batch of segmentLines(file, (n) => (bytes += n))) {
    const { data, starts, ends } = batch;
    for (let i = 0; i < starts.length; i++) {
      lineNo++;
      const text = data.toString('utf8', starts[i], ends[i]);
      if (text.trim() === '') continue;
      chunk.read++;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        reject({ file, line: lineNo, id: null, code: 'bad_json', reason: `not JSON: ${(err as Error).message}` });
        if (chunk.read >= options.chunk) await flush();
        continue;
      }
      const v = validateArchivedRecord(value, check);
      if (!v.ok) reject({ file, line: lineNo, id: v.id, code: v.code, reason: v.reason });
      else {
        // What the measurement index needs of the evidence too: derived here, so the importer's thread does not read it.
        const digest = digestOf(v.record);
        digest.index = extrasOf(v.record);
        chunk.digests.push(digest);
        // The archive's own line is kept byte for byte (unless its bytes were not UTF-8: then as decoded).
        if (!isArchiveLine(text, v.record)) chunk.lines.push(JSON.stringify(v.record));
        else if (isUtf8(data.subarray(starts[i], ends[i]))) chunk.lines.pushBytes(data, starts[i]!, ends[i]!);
        else chunk.lines.push(text);
      }
      if (chunk.read >= options.chunk) await flush();
    }
  }
  if (chunk.read > 0) await flush();
}

function fresh(lines: number): { digests: RecordDigest[]; lines: LineBuffer; read: number; rejected: number; byCode: Record<string, number>; problems: ImportProblem[] } {
  return { digests: [], lines: new LineBuffer(Math.min(64 << 20, lines * 2048)), read: 0, rejected: 0, byCode: {}, problems: [] };
}

/**
 * Whether a line is the record's archive line already: its envelope exactly as the archive writes
 * it, followed by the measurement and `}` (what the archive and the simulator write); the line
 * parsed to this record, so the archive may keep it byte for byte. Other spellings are serialised
 * again.
 */
function isArchiveLine(line: string, record: ArchivedRecord): boolean {
  const envelope = recordEnvelope(record);
  return line.length > envelope.length + 1 && line.startsWith(envelope) && line.charCodeAt(line.length - 1) === CLOSE_BRACE;
}
