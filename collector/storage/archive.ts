// The durable archive: daily JSON-lines segments, fsynced before acknowledgement, gzipped when the day closes.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { Clock } from '../../common/clock.js';
import { fsyncDir } from '../../common/durable.js';
import { InvalidArgumentError } from '../../common/errors.js';
import type { Measurement } from '../../contract/measurement.js';
import type { Decision } from '../../contract/verdict.js';
import { ArchiveCorruptError } from '../errors.js';
import { readRecordAt } from './archive-record.js';

/** segment = 'YYYY-MM-DD', offset = byte offset in the uncompressed text. */
export interface ArchiveCursor {
  segment: string;
  offset: number;
}

/** The collector's own verdict on a measurement, judged again with the control nearest in time (see collector/control/). */
export interface CollectorJudgement {
  verdict: Decision;
  /** The control measurement it was judged with. */
  control_id: string;
}

export interface ArchivedRecord {
  received_at: string;
  probe_id: string;
  asn: number | null;
  cc: string | null;
  network: string | null;
  /** Present when a control judged the measurement: aggregates, series, events and reports use this verdict. */
  collector?: CollectorJudgement;
  measurement: Measurement;
}

/** The verdict everything after the archive uses: the collector's when a control judged the measurement, else the probe's. */
export function verdictOf<V>(r: { collector?: { verdict: V }; measurement: { verdict: V } }): V {
  return r.collector?.verdict ?? r.measurement.verdict;
}

/** What a follower reads the archive through (reindex hands some a view of it: see control/rejudge.ts). */
export type ArchiveReader = Pick<Archive, 'read'>;

/** A torn tail found at open: bytes after the last newline of a segment, cut away (never acknowledged). */
export interface Recovery {
  segment: string;
  /** Size of the segment before and after truncation. */
  size_before: number;
  size_after: number;
}

/** Where an append landed: the position of its first record and the position after its last. */
export interface AppendedSpan {
  from: ArchiveCursor;
  to: ArchiveCursor;
  /** Where each record's line starts, in the order of the records (absent when the span was not made by an append). */
  starts?: ArchiveCursor[];
}

export interface ArchiveOptions {
  /** Open for reading only: no recovery, no compression, `append` throws. For a second process or a sink. */
  readonly?: boolean;
}

const SEGMENT = /^(\d{4}-\d{2}-\d{2})\.jsonl(\.gz)?$/;
const NEWLINE = 0x0a;
/** Bytes read and compressed at a time when a day is gzipped. */
const COMPRESS_CHUNK = 1024 * 1024;

/** UTC day 'YYYY-MM-DD' of an epoch-ms time. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

interface SegmentFile {
  day: string;
  file: string;
  gz: boolean;
}

/** Segments on disk in day order (a day present both plain and gzipped is read from the gzip). */
async function listSegments(dir: string): Promise<SegmentFile[]> {
  const byDay = new Map<string, SegmentFile>();
  for (const name of await readdir(dir)) {
    const match = SEGMENT.exec(name);
    if (!match) continue;
    const day = match[1]!;
    const gz = match[2] !== undefined;
    const existing = byDay.get(day);
    if (existing === undefined || (gz && !existing.gz)) byDay.set(day, { day, file: path.join(dir, name), gz });
  }
  return [...byDay.values()].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}

/** Serialises async work (appends, rollovers, close) in call order. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class Archive {
  /** Torn tails truncated when the archive was opened. */
  readonly recovered: Recovery[];
  private readonly queue = new Queue();
  private current: { day: string; handle: FileHandle; size: number } | null = null;
  private readonly compressions = new Set<Promise<void>>();
  private closed = false;
  /** The latest day that has a segment: appends never go to an earlier (possibly closed) day. */
  private latestDay: string | null;
  /** The day of the last received_at looked at (the records of a batch share theirs). */
  private lastDay: { receivedAt: string; day: string } | null = null;

  private constructor(
    readonly dir: string,
    private readonly clock: Clock,
    private readonly readonly: boolean,
    recovered: Recovery[],
    latestDay: string | null,
  ) {
    this.recovered = recovered;
    this.latestDay = latestDay;
  }

  /**
   * Open (creating) the archive in `dir`: truncate a torn last line of every plain segment, finish
   * interrupted compressions and compress plain segments of days before today.
   */
  static async open(dir: string, clock: Clock, options: ArchiveOptions = {}): Promise<Archive> {
    if (options.readonly === true) {
      await stat(dir);
      return new Archive(dir, clock, true, [], null);
    }
    await mkdir(dir, { recursive: true });
    const names = await readdir(dir);
    for (const name of names) {
      if (name.endsWith('.tmp')) await rm(path.join(dir, name), { force: true });
    }
    const recovered: Recovery[] = [];
    const plainDays: string[] = [];
    for (const name of names) {
      const match = SEGMENT.exec(name);
      if (!match || match[2] !== undefined) continue;
      const day = match[1]!;
      if (names.includes(`${day}.jsonl.gz`)) {
        // The gzip was renamed into place (complete) but the plain file not yet removed.
        await rm(path.join(dir, name), { force: true });
        continue;
      }
      // Whatever a previous run wrote is made durable now, so every byte a reader sees from here on is.
      const cut = await truncateTornTail(path.join(dir, name));
      if (cut) recovered.push({ segment: day, ...cut });
      plainDays.push(day);
    }
    const days = names.map((n) => SEGMENT.exec(n)?.[1]).filter((d): d is string => d !== undefined).sort();
    const archive = new Archive(dir, clock, false, recovered, days.at(-1) ?? null);
    const today = utcDay(clock.now());
    for (const day of plainDays) {
      if (day < today) await archive.compress(day);
    }
    return archive;
  }

  /** Where the next appended record will start. */
  position(): ArchiveCursor {
    if (this.current) return { segment: this.current.day, offset: this.current.size };
    return { segment: utcDay(this.clock.now()), offset: 0 };
  }

  /**
   * Append records (one JSON line each) to the segment of their day of receipt and fsync before
   * resolving. A record received on a day before the open segment goes into the open segment.
   * Resolves with where the records landed (for an empty list: an empty span at the position).
   *
   * `measurements`, when given, holds for each record the JSON of its measurement as received
   * (UTF-8 bytes or a string; it must parse to `record.measurement` and hold no line break), or
   * null: that text is written instead of serialising the parsed value again.
   */
  append(records: readonly ArchivedRecord[], measurements?: ReadonlyArray<Uint8Array | string | null>): Promise<AppendedSpan> {
    if (this.readonly) return Promise.reject(new InvalidArgumentError('archive opened read-only'));
    if (this.closed) return Promise.reject(new InvalidArgumentError('archive is closed'));
    return this.queue.run(async () => {
      let from: ArchiveCursor | null = null;
      const starts: ArchiveCursor[] = [];
      let i = 0;
      while (i < records.length) {
        const day = this.dayFor(records[i]!);
        let j = i + 1;
        while (j < records.length && this.dayFor(records[j]!) === day) j++;
        const start = await this.writeLines(day, records.slice(i, j), measurements?.slice(i, j), starts);
        from ??= start;
        i = j;
      }
      const to = this.position();
      return { from: from ?? to, to, starts };
    });
  }

  /**
   * Append lines encoded elsewhere (an import parses and checks its records in a worker): `data`
   * holds one line per record of `heads`, in order, each the record's JSON as `append` would write
   * it, ending in LF; `ends[i]` is the byte offset after line i. Days are split as `append` splits
   * them (by received_at, never before the latest day).
   */
  appendEncoded(heads: ReadonlyArray<Pick<ArchivedRecord, 'received_at'>>, data: Uint8Array, ends: ArrayLike<number>): Promise<AppendedSpan> {
    if (this.readonly) return Promise.reject(new InvalidArgumentError('archive opened read-only'));
    if (this.closed) return Promise.reject(new InvalidArgumentError('archive is closed'));
    if (ends.length !== heads.length || (heads.length > 0 && ends[heads.length - 1] !== data.length)) {
      return Promise.reject(new InvalidArgumentError(`appendEncoded: ${heads.length} records, ${ends.length} line ends and ${data.length} bytes do not match`));
    }
    return this.queue.run(async () => {
      let from: ArchiveCursor | null = null;
      const starts: ArchiveCursor[] = [];
      let i = 0;
      while (i < heads.length) {
        const day = this.dayFor(heads[i]!);
        let j = i + 1;
        while (j < heads.length && this.dayFor(heads[j]!) === day) j++;
        const first = i === 0 ? 0 : ends[i - 1]!;
        const start = await this.writeData(day, data.subarray(first, ends[j - 1]!));
        // Each line starts where the written run started, moved by the bytes of the lines before it.
        for (let k = i; k < j; k++) starts.push({ segment: start.segment, offset: start.offset + ((k === 0 ? 0 : ends[k - 1]!) - first) });
        from ??= start;
        i = j;
      }
      const to = this.position();
      return { from: from ?? to, to, starts };
    });
  }

  /**
   * Close the open segment when its day is over (the server calls this periodically, so a day is
   * compressed even when no upload arrives after midnight).
   */
  rollover(): Promise<void> {
    if (this.readonly || this.closed) return Promise.resolve();
    return this.queue.run(async () => {
      const today = utcDay(this.clock.now());
      if (this.latestDay === null || today > this.latestDay) this.latestDay = today;
      const current = this.current;
      if (current === null || current.day >= today) return;
      await current.handle.close();
      this.current = null;
      this.track(this.compress(current.day));
    });
  }

  private dayFor(record: Pick<ArchivedRecord, 'received_at'>): string {
    let day: string;
    if (this.lastDay !== null && this.lastDay.receivedAt === record.received_at) day = this.lastDay.day;
    else {
      const received = Date.parse(record.received_at);
      if (Number.isNaN(received)) throw new InvalidArgumentError(`received_at is not a time: ${record.received_at}`);
      day = utcDay(received);
      this.lastDay = { receivedAt: record.received_at, day };
    }
    return this.latestDay !== null && day < this.latestDay ? this.latestDay : day;
  }

  /** Write and fsync; returns the position of the first line. `current.size` only ever counts fsynced bytes. */
  private writeLines(
    day: string,
    records: readonly ArchivedRecord[],
    measurements: ReadonlyArray<Uint8Array | string | null> | undefined,
    starts: ArchiveCursor[],
  ): Promise<ArchiveCursor> {
    return this.writeData(day, encodeLines(records, measurements), starts);
  }

  /** Write and fsync whole lines; returns the position of the first. */
  /** The record whose line starts at `at` (a position a follower noted), or null when the archive has no such segment. */
  readAt(at: ArchiveCursor): Promise<ArchivedRecord | null> {
    return readRecordAt(this.dir, at);
  }

  private async writeData(day: string, data: Uint8Array, starts?: ArchiveCursor[]): Promise<ArchiveCursor> {
    if (this.current === null || this.current.day !== day) await this.rollTo(day);
    const current = this.current!;
    const start = { segment: current.day, offset: current.size };
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await current.handle.write(data, written, data.length - written, current.size + written);
        written += bytesWritten;
      }
      await current.handle.sync();
    } catch (err) {
      // Leave no partial record behind: what was not synced was not acknowledged.
      await current.handle.truncate(current.size).catch(() => undefined);
      throw err;
    }
    if (starts !== undefined) for (let at = 0; at < data.length; at = data.indexOf(NEWLINE, at) + 1) starts.push({ segment: current.day, offset: current.size + at });
    current.size += data.length;
    return start;
  }

  private async rollTo(day: string): Promise<void> {
    const previous = this.current;
    if (previous) {
      await previous.handle.close();
      this.current = null;
      if (previous.day < day) this.track(this.compress(previous.day));
    }
    const file = path.join(this.dir, `${day}.jsonl`);
    const closedDay = await stat(`${file}.gz`).then(
      () => true,
      () => false,
    );
    // Only when the clock went back past a closed day: refuse rather than split a day in two files.
    if (closedDay) throw new InvalidArgumentError(`archive segment ${day} is already closed (did the clock go backwards?)`);
    const handle = await open(file, 'a+');
    const { size } = await handle.stat();
    if (size === 0) await fsyncDir(this.dir);
    this.current = { day, handle, size };
    if (this.latestDay === null || day > this.latestDay) this.latestDay = day;
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch(() => undefined).finally(() => this.compressions.delete(tracked));
    this.compressions.add(tracked);
  }

  /** Gzip a closed day: write .jsonl.gz.tmp, fsync, rename into place, then remove the plain file. */
  private async compress(day: string): Promise<void> {
    const plain = path.join(this.dir, `${day}.jsonl`);
    const gz = `${plain}.gz`;
    const tmp = `${gz}.tmp`;
    // Large chunks: the default 16 KB ones cost the main thread a callback each (several times the CPU of the compression's glue).
    await pipeline(createReadStream(plain, { highWaterMark: COMPRESS_CHUNK }), createGzip({ chunkSize: COMPRESS_CHUNK }), createWriteStream(tmp));
    const handle = await open(tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, gz);
    await fsyncDir(this.dir);
    await rm(plain, { force: true });
    await fsyncDir(this.dir);
  }

  /**
   * Every durable record from `from` (or the start) in archive order, each with the cursor after it.
   *
   * Only fsynced bytes are read: in the segment being appended to, reading stops at the size the
   * last completed fsync covered (an append in progress is written but not yet durable, and a power
   * loss could take it back, so a cursor must never point past it). Every other segment of a writing
   * archive is durable whole: its appends were fsynced, and open() fsyncs what a previous run left.
   * A read-only archive cannot know what another process has synced: it fsyncs each plain segment
   * itself before reading it, up to the size it saw before that fsync.
   */
  async *read(from?: ArchiveCursor): AsyncIterable<{ record: ArchivedRecord; next: ArchiveCursor }> {
    for (const segment of await listSegments(this.dir)) {
      if (from !== undefined && segment.day < from.segment) continue;
      const start = from !== undefined && segment.day === from.segment ? from.offset : 0;
      yield* readSegment(segment, start, (handle) => this.durableEnd(segment.day, handle));
    }
  }

  /** The durable length of a plain segment whose file is open as `handle` (see read()). */
  private async durableEnd(day: string, handle: FileHandle): Promise<number> {
    if (this.readonly) {
      const { size } = await handle.stat();
      await handle.sync();
      return size;
    }
    // Read synchronously with the caller's open: no fsync can complete in between.
    if (this.current !== null && this.current.day === day) return this.current.size;
    return Number.POSITIVE_INFINITY;
  }

  /** Finish pending compressions and close the open segment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.run(async () => {
      if (this.current) {
        await this.current.handle.close();
        this.current = null;
      }
    });
    await Promise.all([...this.compressions]);
  }
}

const LINE_END = Buffer.from('}\n');

/**
 * The start of a record's JSON line up to its measurement: `JSON.stringify(record)` is this, the
 * measurement's JSON and `}` (the same keys in the same order).
 */
export function recordEnvelope(r: ArchivedRecord): string {
  return (
    `{"received_at":${JSON.stringify(r.received_at)},"probe_id":${JSON.stringify(r.probe_id)},"asn":${JSON.stringify(r.asn)},` +
    `"cc":${JSON.stringify(r.cc)},"network":${JSON.stringify(r.network)},` +
    `${r.collector !== undefined ? `"collector":${JSON.stringify(r.collector)},` : ''}"measurement":`
  );
}

function sameEnvelope(a: ArchivedRecord, b: ArchivedRecord): boolean {
  return (
    a.received_at === b.received_at && a.probe_id === b.probe_id && a.asn === b.asn && a.cc === b.cc && a.network === b.network && a.collector === b.collector
  );
}

/**
 * The JSON lines of `records`: `JSON.stringify(record)`, or, where the measurement's JSON is given,
 * the same keys in the same order around that text (the envelope is shared by consecutive records
 * that have the same values, as the records of one batch usually do). Given as strings (an import:
 * the text it read), the lines are built as one string and encoded once.
 */
function encodeLines(records: readonly ArchivedRecord[], measurements?: ReadonlyArray<Uint8Array | string | null>): Buffer {
  if (measurements === undefined) return Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join(''), 'utf8');
  if (measurements.every((m) => typeof m !== 'object' || m === null)) {
    const lines: string[] = [];
    let head = '';
    let last: ArchivedRecord | null = null;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const json = measurements[i] as string | null | undefined;
      if (json === undefined || json === null) {
        lines.push(`${JSON.stringify(r)}\n`);
        continue;
      }
      if (last === null || !sameEnvelope(last, r)) {
        head = recordEnvelope(r);
        last = r;
      }
      lines.push(`${head}${json}}\n`);
    }
    return Buffer.from(lines.join(''), 'utf8');
  }
  const parts: Uint8Array[] = [];
  let head: Buffer | null = null;
  let last: ArchivedRecord | null = null;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const json = measurements[i];
    if (json === undefined || json === null) {
      parts.push(Buffer.from(`${JSON.stringify(r)}\n`, 'utf8'));
      continue;
    }
    if (head === null || last === null || !sameEnvelope(last, r)) {
      head = Buffer.from(recordEnvelope(r), 'utf8');
      last = r;
    }
    parts.push(head, typeof json === 'string' ? Buffer.from(json, 'utf8') : json, LINE_END);
  }
  return Buffer.concat(parts);
}

/** Cut everything after the last newline; returns the sizes when something was cut. */
async function truncateTornTail(file: string): Promise<{ size_before: number; size_after: number } | null> {
  const handle = await open(file, 'r+');
  try {
    const { size } = await handle.stat();
    if (size === 0) return null;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] === NEWLINE) {
      await handle.sync();
      return null;
    }
    // Scan backwards for the last newline.
    const chunk = Buffer.alloc(64 * 1024);
    let end = size;
    let keep = 0;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      const idx = chunk.subarray(0, bytesRead).lastIndexOf(NEWLINE);
      if (idx >= 0) {
        keep = start + idx + 1;
        break;
      }
      end = start;
    }
    await handle.truncate(keep);
    await handle.sync();
    return { size_before: size, size_after: keep };
  } finally {
    await handle.close();
  }
}

type DurableEnd = (handle: FileHandle) => Promise<number>;

// eslint-disable-next-line require-yield
async function* noChunks(): AsyncIterable<Buffer> {
  return;
}

async function openSegmentStream(segment: SegmentFile, start: number, durableEnd: DurableEnd): Promise<{ stream: AsyncIterable<Buffer>; skip: number }> {
  if (!segment.gz) {
    try {
      // Opening before streaming keeps the data readable even if the day is compressed meanwhile.
      const handle = await open(segment.file, 'r');
      let end: number;
      try {
        end = await durableEnd(handle);
      } catch (err) {
        await handle.close();
        throw err;
      }
      if (end <= start) {
        await handle.close();
        return { stream: noChunks(), skip: 0 };
      }
      const range = Number.isFinite(end) ? { start, end: end - 1 } : { start };
      return { stream: handle.createReadStream({ ...range, autoClose: true }), skip: 0 };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      segment = { ...segment, file: `${segment.file}.gz`, gz: true };
    }
  }
  const handle = await open(segment.file, 'r');
  const source = handle.createReadStream({ autoClose: true });
  const gunzip = createGunzip();
  source.on('error', (err) => gunzip.destroy(err));
  return { stream: source.pipe(gunzip), skip: start };
}

async function* readSegment(segment: SegmentFile, start: number, durableEnd: DurableEnd): AsyncIterable<{ record: ArchivedRecord; next: ArchiveCursor }> {
  const { stream, skip } = await openSegmentStream(segment, start, durableEnd);
  let toSkip = skip;
  let pending: Buffer = Buffer.alloc(0);
  let pendingOffset = start; // byte offset (uncompressed) of pending[0]
  for await (const raw of stream) {
    let chunk = raw as Buffer;
    if (toSkip > 0) {
      if (chunk.length <= toSkip) {
        toSkip -= chunk.length;
        continue;
      }
      chunk = chunk.subarray(toSkip);
      toSkip = 0;
    }
    const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let lineStart = 0;
    let nl = buf.indexOf(NEWLINE, lineStart);
    while (nl >= 0) {
      const lineOffset = pendingOffset + lineStart;
      const line = buf.subarray(lineStart, nl).toString('utf8');
      let record: ArchivedRecord;
      try {
        record = JSON.parse(line) as ArchivedRecord;
      } catch {
        throw new ArchiveCorruptError(segment.day, lineOffset, 'not a JSON line');
      }
      lineStart = nl + 1;
      yield { record, next: { segment: segment.day, offset: pendingOffset + lineStart } };
      nl = buf.indexOf(NEWLINE, lineStart);
    }
    pending = Buffer.from(buf.subarray(lineStart));
    pendingOffset += lineStart;
  }
  // A trailing partial line is an append in progress (or a torn tail): not yielded.
}
