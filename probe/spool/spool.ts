// The probe's durable spool: every measurement stays on disk, crash-safe and within a disk cap, until the collector acknowledges it.
//
// Layout of the spool directory (mode 0700, files 0600):
//
//   seg-000000000001.seg   segment: measurements as length-framed, CRC-checked records (frame.ts),
//                          appended in order; a new segment starts when the current one would
//                          exceed `segmentBytes`, and at every open
//   seg-000000000001.ack   ack log of that segment: frames whose payload is a JSON array of the
//                          acknowledged ids (created on the first partial acknowledgement)
//   state.json             drop counters of the disk cap and drops in progress (state.ts),
//                          replaced atomically (write temp, fsync, rename, fsync directory)
//   corrupt/               bytes set aside at open (or when a record no longer reads back)
//
// Durability. `append` writes the frame at the end of the current segment and fdatasyncs before
// it resolves (a new segment file also fsyncs the directory). `ack` appends the ids to the ack log
// and fdatasyncs; when every record of a segment is acknowledged the segment and its ack log are
// deleted instead. A kill -9 or power cut can therefore leave at most a partial frame at the end
// of the segment being written, or of an ack log (the ids then stay pending and are uploaded once
// more, which the collector's deduplication by id makes harmless).
//
// Recovery at open. Every segment and ack log is scanned. Bytes after the last valid frame (a torn
// tail) are copied to corrupt/ and cut off; bytes in the middle that are not a valid frame (bad
// magic, length or checksum) are copied to corrupt/ and the segment is rewritten atomically with
// its valid, unacknowledged records, so the records after a corrupt one are still delivered. Each
// such span is listed in `setAside`. Leftover temp files are removed, ack logs without a segment
// deleted, and a drop interrupted by a crash finished.
//
// Disk cap. `capBytes` bounds the segments plus their ack logs. When an append would exceed it,
// the OLDEST segments are dropped whole (the active one last) until the record fits; their
// unacknowledged records are counted in state.json, before the files are removed, with the drop
// marked as in progress so that a crash neither loses nor doubles the count. A single record larger
// than the whole cap is itself dropped and counted. The counts are in `stats()`; `takeOverflow()`
// and `confirmOverflowReported()` hand the unreported part to the uploader, which sends it to the
// collector as a spool-overflow report.
//
// Memory: only an index (id → segment, offset, length) is kept; payloads are read from disk by
// `pending`. All operations are serialised in call order, so appends and acks may interleave
// freely. One process at a time owns a spool directory; `Spool.inspect` reads one without
// changing it (for a status command while the daemon runs).
import { chmod, mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../../common/clock.js';
import { InvalidArgumentError } from '../../common/errors.js';
import type { Measurement } from '../../contract/measurement.js';
import { createFile, DIR_MODE, FILE_MODE, fsyncDir, replaceFile, writeFully } from '../../common/durable.js';
import { encodeFrame, readFrameAt, scanFrames, type BadSpan } from './frame.js';
import {
  emptyState,
  parseState,
  serializeState,
  STATE_FILE,
  unreportedOverflow,
  withDrop,
  withReported,
  type SpoolState,
} from './state.js';
import { SerialQueue } from '../../common/serial-queue.js';

export interface SpoolStats {
  /** Records on disk not yet acknowledged. */
  count: number;
  /** Bytes of the segments and their ack logs (what the cap bounds). */
  bytes: number;
  capBytes: number;
  /** Records dropped by the disk cap since the spool was created. */
  dropped: number;
  firstDroppedAt: string | null;
  lastDroppedAt: string | null;
  /** Files in corrupt/ (set aside at this open or earlier ones, until a human removes them). */
  setAside: number;
}

/** Bytes moved to corrupt/: the file they are in now, why, and how many. */
export interface SetAside {
  file: string;
  reason: string;
  bytes: number;
}

export interface SpoolOptions {
  capBytes: number;
  clock: Clock;
  /** Size at which a new segment starts; default capBytes/16 within [16 KiB, 4 MiB]. */
  segmentBytes?: number;
}

export const CORRUPT_DIR = 'corrupt';
/** The smallest cap accepted: room for a few measurements. */
export const MIN_CAP_BYTES = 16 * 1024;

const SEGMENT_FILE = /^seg-(\d{12})\.seg$/;
const ACK_FILE = /^seg-(\d{12})\.ack$/;

function segmentName(seq: number): string {
  return `seg-${String(seq).padStart(12, '0')}.seg`;
}

function ackName(seq: number): string {
  return `seg-${String(seq).padStart(12, '0')}.ack`;
}

function defaultSegmentBytes(capBytes: number): number {
  return Math.min(capBytes, Math.max(16 * 1024, Math.min(4 * 1024 * 1024, Math.floor(capBytes / 16))));
}

/** The id of a spooled measurement payload, or null when it is not one. */
function measurementId(payload: Buffer): string | null {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    if (typeof value !== 'object' || value === null) return null;
    const id = (value as { id?: unknown }).id;
    return typeof id === 'string' && id !== '' ? id : null;
  } catch {
    return null;
  }
}

/** The ids in an ack-log payload, or null when it is not a list of ids. */
function ackedIds(payload: Buffer): string[] | null {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : null;
  } catch {
    return null;
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}

async function countFiles(dir: string): Promise<number> {
  try {
    return (await readdir(dir)).length;
  } catch (err) {
    if (isMissing(err)) return 0;
    throw err;
  }
}

/** Where a record's frame is in its segment. */
interface Slot {
  offset: number;
  length: number;
}

interface Segment {
  seq: number;
  /** Bytes of the segment file. */
  size: number;
  /** Bytes of its ack log (0: none on disk). */
  ackSize: number;
  /** Unacknowledged records in append order. */
  pending: Map<string, Slot>;
  /** Open for appending and reading: the active segment only. */
  handle: FileHandle | null;
}

export class Spool {
  /** Bytes moved to corrupt/ since this spool was opened (at open, and by `pending` if a record no longer reads back). */
  readonly setAside: SetAside[] = [];
  private readonly queue = new SerialQueue();
  private readonly segments: Segment[] = [];
  private readonly byId = new Map<string, Segment>();
  private active: Segment | null = null;
  private nextSeq = 1;
  private state: SpoolState = emptyState();
  /** Drops the overflow report being uploaded covers (takeOverflow); merges of drop events keep clear of its end. */
  private overflowInFlight = 0;
  private setAsideOnDisk = 0;
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly capBytes: number,
    private readonly segmentBytes: number,
    private readonly clock: Clock,
  ) {}

  /**
   * Open the spool in `dir` (created with mode 0700): recover torn and corrupt data into
   * dir/corrupt/ (listed in `setAside`), finish interrupted drops, index the pending records.
   */
  static async open(dir: string, options: SpoolOptions): Promise<Spool> {
    const capBytes = checkCap(options.capBytes);
    const segmentBytes = options.segmentBytes ?? defaultSegmentBytes(capBytes);
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1 || segmentBytes > capBytes) {
      throw new InvalidArgumentError(`spool segmentBytes must be an integer from 1 to capBytes (${capBytes}), got ${segmentBytes}`);
    }
    const spool = new Spool(dir, capBytes, segmentBytes, options.clock);
    await spool.load();
    return spool;
  }

  /** Statistics of the spool in `dir` without changing anything (safe while another process owns it; a missing spool is empty). */
  static async inspect(dir: string, options: { capBytes: number }): Promise<SpoolStats> {
    const capBytes = checkCap(options.capBytes);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (!isMissing(err)) throw err;
      names = []; // not created yet: an empty spool
    }
    const stateText = await readIfExists(path.join(dir, STATE_FILE));
    const parsed = stateText === null ? emptyState() : parseState(stateText.toString('utf8'));
    const state = 'problem' in parsed ? emptyState() : parsed;
    const ids = new Set<string>();
    let bytes = 0;
    const seqs = names.flatMap((n) => {
      const m = SEGMENT_FILE.exec(n);
      return m ? [Number(m[1])] : [];
    });
    for (const seq of seqs.sort((a, b) => a - b)) {
      if (state.dropping.includes(seq)) continue;
      const segment = await readIfExists(path.join(dir, segmentName(seq)));
      if (segment === null) continue; // removed while we looked
      const ackBuf = await readIfExists(path.join(dir, ackName(seq)));
      const acked = new Set<string>();
      for (const r of ackBuf === null ? [] : scanFrames(ackBuf).records) for (const id of ackedIds(r.payload) ?? []) acked.add(id);
      for (const r of scanFrames(segment).records) {
        const id = measurementId(r.payload);
        if (id !== null && !acked.has(id)) ids.add(id);
      }
      bytes += segment.length + (ackBuf?.length ?? 0);
    }
    return {
      count: ids.size,
      bytes,
      capBytes,
      dropped: state.dropped,
      firstDroppedAt: state.first_dropped_at,
      lastDroppedAt: state.last_dropped_at,
      setAside: await countFiles(path.join(dir, CORRUPT_DIR)),
    };
  }

  /**
   * Store `m`; resolves once it is durable on disk. Appending an id that is already pending does
   * nothing. May drop the oldest records first to stay within the cap (counted, see stats()).
   */
  append(m: Measurement): Promise<void> {
    if (this.closed) return Promise.reject(new InvalidArgumentError('spool is closed'));
    const id: unknown = (m as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || id === '') return Promise.reject(new InvalidArgumentError('spool: a measurement needs a non-empty string id'));
    let frame: Buffer;
    try {
      frame = encodeFrame(Buffer.from(JSON.stringify(m), 'utf8'));
    } catch (err) {
      return Promise.reject(new InvalidArgumentError(`spool: measurement ${id} cannot be stored: ${(err as Error).message}`));
    }
    return this.queue.run(() => this.appendFrame(id, frame));
  }

  /** Up to `limit` unacknowledged measurements, oldest first. */
  pending(limit: number): Promise<Measurement[]> {
    if (this.closed) return Promise.reject(new InvalidArgumentError('spool is closed'));
    if (!Number.isSafeInteger(limit) || limit < 0) return Promise.reject(new InvalidArgumentError(`spool: bad pending limit ${limit}`));
    return this.queue.run(() => this.readPending(limit));
  }

  /** Remove acknowledged ids durably; unknown ids are ignored. */
  ack(ids: string[]): Promise<void> {
    if (this.closed) return Promise.reject(new InvalidArgumentError('spool is closed'));
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      return Promise.reject(new InvalidArgumentError('spool: ack takes a list of ids'));
    }
    return this.queue.run(async () => {
      const bySegment = new Map<Segment, string[]>();
      for (const id of new Set(ids)) {
        const segment = this.byId.get(id);
        if (segment === undefined) continue;
        const list = bySegment.get(segment);
        if (list === undefined) bySegment.set(segment, [id]);
        else list.push(id);
      }
      for (const [segment, list] of bySegment) await this.ackInSegment(segment, list);
    });
  }

  stats(): SpoolStats {
    return {
      count: this.byId.size,
      bytes: this.bytes(),
      capBytes: this.capBytes,
      dropped: this.state.dropped,
      firstDroppedAt: this.state.first_dropped_at,
      lastDroppedAt: this.state.last_dropped_at,
      setAside: this.setAsideOnDisk,
    };
  }

  /**
   * What the cap dropped and the collector has not yet been told; after the collector acknowledged
   * the report, call confirmOverflowReported with its `dropped`.
   */
  takeOverflow(): { dropped: number; firstDroppedAt: string; lastDroppedAt: string } | null {
    const overflow = unreportedOverflow(this.state);
    this.overflowInFlight = overflow?.dropped ?? 0;
    return overflow;
  }

  /** The oldest `dropped` unreported drops have reached the collector (durable). */
  confirmOverflowReported(dropped: number): Promise<void> {
    if (this.closed) return Promise.reject(new InvalidArgumentError('spool is closed'));
    if (!Number.isSafeInteger(dropped) || dropped < 0) return Promise.reject(new InvalidArgumentError(`spool: bad reported count ${dropped}`));
    return this.queue.run(async () => {
      if (dropped === 0 || this.state.unreported.length === 0) return;
      await this.saveState(withReported(this.state, dropped));
      this.overflowInFlight = 0;
    });
  }

  /** Finish queued operations and close the files; the spool cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.run(async () => {
      const handle = this.active?.handle;
      this.active = null;
      for (const s of this.segments) s.handle = null;
      await handle?.close();
    });
  }

  // ---- open and recovery ----

  private async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: DIR_MODE });
    await chmod(this.dir, DIR_MODE);
    await mkdir(path.join(this.dir, CORRUPT_DIR), { recursive: true, mode: DIR_MODE });
    let names = await readdir(this.dir);
    for (const name of names) if (name.endsWith('.tmp')) await rm(path.join(this.dir, name), { force: true });

    await this.loadState();
    if (this.state.dropping.length > 0) {
      // A drop was counted but the crash came before its files were gone: finish it.
      for (const seq of this.state.dropping) {
        await rm(path.join(this.dir, segmentName(seq)), { force: true });
        await rm(path.join(this.dir, ackName(seq)), { force: true });
      }
      await fsyncDir(this.dir);
      await this.saveState({ ...this.state, dropping: [] });
      names = await readdir(this.dir);
    }

    const seqs = new Set<number>();
    for (const name of names) {
      const m = SEGMENT_FILE.exec(name);
      if (m) seqs.add(Number(m[1]));
    }
    let orphans = false;
    for (const name of names) {
      const m = ACK_FILE.exec(name);
      if (m && !seqs.has(Number(m[1]))) {
        // The segment was deleted (fully acknowledged) before its ack log.
        await rm(path.join(this.dir, name), { force: true });
        orphans = true;
      }
    }
    if (orphans) await fsyncDir(this.dir);

    const ordered = [...seqs].sort((a, b) => a - b);
    for (const seq of ordered) await this.loadSegment(seq);
    this.nextSeq = (ordered.at(-1) ?? 0) + 1;
    this.setAsideOnDisk = await countFiles(path.join(this.dir, CORRUPT_DIR));
  }

  private async loadState(): Promise<void> {
    const text = await readIfExists(path.join(this.dir, STATE_FILE));
    if (text === null) return;
    const parsed = parseState(text.toString('utf8'));
    if (!('problem' in parsed)) {
      this.state = parsed;
      return;
    }
    await this.setAsideBytes(STATE_FILE, 0, 'corrupt', `state file unusable (drop counters reset): ${parsed.problem}`, text);
    await this.saveState(emptyState());
  }

  /** The ids acknowledged in the ack log of segment `seq`, repairing the log if it is torn or corrupt. */
  private async loadAcks(seq: number): Promise<{ acked: Set<string>; size: number }> {
    const name = ackName(seq);
    const buf = await readIfExists(path.join(this.dir, name));
    const acked = new Set<string>();
    if (buf === null) return { acked, size: 0 };
    const scan = scanFrames(buf);
    const bad: BadSpan[] = [...scan.corrupt];
    for (const r of scan.records) {
      const ids = ackedIds(r.payload);
      if (ids === null) bad.push({ offset: r.offset, length: r.length, reason: 'ack record is not a list of ids' });
      else for (const id of ids) acked.add(id);
    }
    if (scan.tail !== null) bad.push(scan.tail);
    if (bad.length === 0) return { acked, size: buf.length };
    for (const span of bad.sort((a, b) => a.offset - b.offset)) {
      const torn = span === scan.tail;
      await this.setAsideBytes(name, span.offset, torn ? 'torn' : 'corrupt', `${torn ? 'torn tail' : 'corrupt ack record'}: ${span.reason}`, buf.subarray(span.offset, span.offset + span.length));
    }
    // Rewrite the log with what it validly says, in one frame.
    const rewritten = acked.size > 0 ? encodeFrame(Buffer.from(JSON.stringify([...acked]), 'utf8')) : Buffer.alloc(0);
    await replaceFile(this.dir, name, rewritten);
    return { acked, size: rewritten.length };
  }

  private async loadSegment(seq: number): Promise<void> {
    const name = segmentName(seq);
    const file = path.join(this.dir, name);
    const buf = await readFile(file);
    const scan = scanFrames(buf);
    const bad: BadSpan[] = [...scan.corrupt];
    const records: Array<{ id: string; offset: number; length: number }> = [];
    for (const r of scan.records) {
      const id = measurementId(r.payload);
      if (id === null) bad.push({ offset: r.offset, length: r.length, reason: 'record is not a measurement' });
      else records.push({ id, offset: r.offset, length: r.length });
    }
    for (const span of bad.sort((a, b) => a.offset - b.offset)) {
      await this.setAsideBytes(name, span.offset, 'corrupt', `corrupt record: ${span.reason}`, buf.subarray(span.offset, span.offset + span.length));
    }
    if (scan.tail !== null) {
      const { offset, length, reason } = scan.tail;
      await this.setAsideBytes(name, offset, 'torn', `torn tail: ${reason}`, buf.subarray(offset, offset + length));
    }

    const { acked, size: ackSize } = await this.loadAcks(seq);
    const live = records.filter((r) => !acked.has(r.id) && !this.byId.has(r.id));
    const segment: Segment = { seq, size: buf.length, ackSize, pending: new Map(), handle: null };
    if (live.length === 0) {
      await rm(file, { force: true });
      await rm(path.join(this.dir, ackName(seq)), { force: true });
      await fsyncDir(this.dir);
      return;
    }
    if (bad.length > 0) {
      // Keep the records after the corruption: rewrite the segment with the live ones only.
      const parts = live.map((r) => buf.subarray(r.offset, r.offset + r.length));
      await replaceFile(this.dir, name, Buffer.concat(parts));
      await rm(path.join(this.dir, ackName(seq)), { force: true });
      await fsyncDir(this.dir);
      let offset = 0;
      for (const r of live) {
        segment.pending.set(r.id, { offset, length: r.length });
        offset += r.length;
      }
      segment.size = offset;
      segment.ackSize = 0;
    } else {
      if (scan.tail !== null) {
        const handle = await open(file, 'r+');
        try {
          await handle.truncate(scan.tail.offset);
          await handle.sync();
        } finally {
          await handle.close();
        }
        segment.size = scan.tail.offset;
      }
      for (const r of live) segment.pending.set(r.id, { offset: r.offset, length: r.length });
    }
    this.segments.push(segment);
    for (const id of segment.pending.keys()) this.byId.set(id, segment);
  }

  /** Copy `data` into corrupt/ (durably) and list it in `setAside`. */
  private async setAsideBytes(source: string, offset: number, kind: 'torn' | 'corrupt', reason: string, data: Buffer): Promise<void> {
    const corruptDir = path.join(this.dir, CORRUPT_DIR);
    const stamp = new Date(this.clock.now()).toISOString().replace(/:/g, '');
    for (let n = 0; ; n++) {
      const name = `${stamp}-${source}-${offset}${n > 0 ? `-${n}` : ''}.${kind}`;
      try {
        await createFile(corruptDir, name, data);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw err;
      }
      this.setAside.push({ file: path.join(corruptDir, name), reason: `${source} at byte ${offset}: ${reason}`, bytes: data.length });
      this.setAsideOnDisk++;
      return;
    }
  }

  // ---- writing ----

  private bytes(): number {
    let total = 0;
    for (const s of this.segments) total += s.size + s.ackSize;
    return total;
  }

  private async appendFrame(id: string, frame: Buffer): Promise<void> {
    if (this.byId.has(id)) return;
    if (frame.length > this.capBytes) {
      // Could never fit, even in an empty spool: dropping it is the cap's policy too.
      await this.saveState(withDrop(this.state, 1, this.nowIso(), this.overflowInFlight));
      return;
    }
    while (this.bytes() + frame.length > this.capBytes && this.segments.length > 0) await this.dropOldest();
    let segment = this.active;
    if (segment !== null && segment.size > 0 && segment.size + frame.length > this.segmentBytes) {
      await segment.handle?.close();
      segment.handle = null;
      this.active = segment = null;
    }
    segment ??= await this.startSegment();
    const handle = segment.handle!;
    try {
      await writeFully(handle, frame, segment.size);
      await handle.datasync();
    } catch (err) {
      await handle.truncate(segment.size).catch(() => undefined);
      throw err;
    }
    segment.pending.set(id, { offset: segment.size, length: frame.length });
    segment.size += frame.length;
    this.byId.set(id, segment);
  }

  private async startSegment(): Promise<Segment> {
    const seq = this.nextSeq++;
    const handle = await open(path.join(this.dir, segmentName(seq)), 'wx+', FILE_MODE);
    try {
      await fsyncDir(this.dir);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    const segment: Segment = { seq, size: 0, ackSize: 0, pending: new Map(), handle };
    this.segments.push(segment);
    this.active = segment;
    return segment;
  }

  /** Drop the oldest segment whole, counting its unacknowledged records first. */
  private async dropOldest(): Promise<void> {
    const oldest = this.segments[0];
    if (oldest === undefined) return;
    const counted = withDrop(this.state, oldest.pending.size, this.nowIso(), this.overflowInFlight);
    await this.saveState({ ...counted, dropping: [...counted.dropping, oldest.seq] });
    await this.removeSegment(oldest);
    await this.saveState({ ...this.state, dropping: this.state.dropping.filter((s) => s !== oldest.seq) });
  }

  /** Delete a segment and its ack log (segment first: a leftover ack log alone is harmless). */
  private async removeSegment(segment: Segment): Promise<void> {
    if (segment.handle !== null) {
      await segment.handle.close();
      segment.handle = null;
    }
    if (this.active === segment) this.active = null;
    await rm(path.join(this.dir, segmentName(segment.seq)), { force: true });
    await rm(path.join(this.dir, ackName(segment.seq)), { force: true });
    await fsyncDir(this.dir);
    for (const id of segment.pending.keys()) this.byId.delete(id);
    segment.pending.clear();
    const at = this.segments.indexOf(segment);
    if (at >= 0) this.segments.splice(at, 1);
  }

  /** Acknowledge `ids` (all pending in `segment`) durably. */
  private async ackInSegment(segment: Segment, ids: string[]): Promise<void> {
    if (ids.length >= segment.pending.size) {
      await this.removeSegment(segment);
      return;
    }
    const frame = encodeFrame(Buffer.from(JSON.stringify(ids), 'utf8'));
    const file = path.join(this.dir, ackName(segment.seq));
    const created = segment.ackSize === 0;
    const handle = await open(file, created ? 'w' : 'r+', FILE_MODE);
    try {
      try {
        await writeFully(handle, frame, segment.ackSize);
        await handle.datasync();
      } catch (err) {
        await handle.truncate(segment.ackSize).catch(() => undefined);
        throw err;
      }
    } finally {
      await handle.close();
    }
    if (created) await fsyncDir(this.dir);
    segment.ackSize += frame.length;
    for (const id of ids) {
      segment.pending.delete(id);
      this.byId.delete(id);
    }
  }

  private async saveState(state: SpoolState): Promise<void> {
    await replaceFile(this.dir, STATE_FILE, serializeState(state));
    this.state = state;
  }

  private nowIso(): string {
    return new Date(this.clock.now()).toISOString();
  }

  // ---- reading ----

  private async readPending(limit: number): Promise<Measurement[]> {
    const out: Measurement[] = [];
    for (const segment of [...this.segments]) {
      if (out.length >= limit) break;
      if (segment.pending.size === 0) continue;
      const temporary = segment.handle === null;
      const handle = segment.handle ?? (await open(path.join(this.dir, segmentName(segment.seq)), 'r'));
      try {
        for (const [id, slot] of segment.pending) {
          if (out.length >= limit) break;
          const buf = Buffer.alloc(slot.length);
          const { bytesRead } = await handle.read(buf, 0, slot.length, slot.offset);
          const attempt = readFrameAt(buf.subarray(0, bytesRead), 0);
          let problem: string | null = attempt.ok ? null : attempt.reason;
          let value: Measurement | null = null;
          if (attempt.ok) {
            try {
              value = JSON.parse(attempt.record.payload.toString('utf8')) as Measurement;
              if (value?.id !== id) problem = 'record id changed on disk';
            } catch {
              problem = 'payload is not JSON';
            }
          }
          if (problem === null && value !== null) {
            out.push(value);
            continue;
          }
          // The disk changed under us: keep the bytes for a human, stop offering the record.
          await this.setAsideBytes(segmentName(segment.seq), slot.offset, 'corrupt', `record no longer reads back: ${problem}`, buf.subarray(0, bytesRead));
          await this.ackInSegment(segment, [id]);
          if (segment.pending.size === 0) break; // the segment is gone
        }
      } finally {
        if (temporary) await handle.close();
      }
    }
    return out;
  }
}

function checkCap(capBytes: number): number {
  if (!Number.isSafeInteger(capBytes) || capBytes < MIN_CAP_BYTES) {
    throw new InvalidArgumentError(`spool capBytes must be an integer of at least ${MIN_CAP_BYTES}, got ${capBytes}`);
  }
  return capBytes;
}
