// Length-framed, checksummed records of the spool files: encoding, and a scan that tells records from torn or corrupt bytes.
import { crc32 } from 'node:zlib';

/**
 * One frame on disk:
 *
 *   offset 0  magic     4 bytes  00 61 73 71 ("\0asq")
 *   offset 4  length    u32 BE   payload bytes
 *   offset 8  crc32     u32 BE   CRC-32 (zlib) of the length field followed by the payload
 *   offset 12 payload   `length` bytes (UTF-8 JSON in every spool file)
 *
 * The magic starts with a NUL byte, which never occurs in JSON text, so a scan that lost its
 * place can only find candidate frame starts at real frame boundaries or in binary header fields,
 * and the checksum rejects the latter.
 */
export const FRAME_MAGIC = Buffer.from([0x00, 0x61, 0x73, 0x71]);
export const FRAME_HEADER_BYTES = 12;
/** Larger lengths are treated as corruption, never allocated. */
export const MAX_FRAME_PAYLOAD = 64 * 1024 * 1024;

function checksum(lengthField: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(lengthField));
}

/** The frame holding `payload`. */
export function encodeFrame(payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  FRAME_MAGIC.copy(frame, 0);
  frame.writeUInt32BE(payload.length, 4);
  frame.writeUInt32BE(checksum(frame.subarray(4, 8), payload), 8);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** A frame that checks out: where it is and what it carries (`payload` is a view into the scanned buffer). */
export interface FrameRecord {
  offset: number;
  /** Whole frame, header included. */
  length: number;
  payload: Buffer;
}

/** Bytes that are not a valid frame. */
export interface BadSpan {
  offset: number;
  length: number;
  reason: string;
}

export interface FrameScan {
  records: FrameRecord[];
  /** Bad bytes followed by at least one valid frame (corruption in the middle). */
  corrupt: BadSpan[];
  /** Bad bytes after the last valid frame (a write cut short, or garbage at the end), or null. */
  tail: BadSpan | null;
}

type Attempt = { ok: true; record: FrameRecord } | { ok: false; reason: string };

/** Check the frame that would start at `offset` of `buf`. */
export function readFrameAt(buf: Buffer, offset: number): Attempt {
  const available = buf.length - offset;
  if (available < FRAME_HEADER_BYTES) return { ok: false, reason: `truncated header (${available} of ${FRAME_HEADER_BYTES} bytes)` };
  if (!buf.subarray(offset, offset + 4).equals(FRAME_MAGIC)) return { ok: false, reason: 'bad magic' };
  const length = buf.readUInt32BE(offset + 4);
  if (length > MAX_FRAME_PAYLOAD) return { ok: false, reason: `implausible length ${length}` };
  if (available < FRAME_HEADER_BYTES + length) {
    return { ok: false, reason: `truncated payload (${available - FRAME_HEADER_BYTES} of ${length} bytes)` };
  }
  const payload = buf.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length);
  if (checksum(buf.subarray(offset + 4, offset + 8), payload) !== buf.readUInt32BE(offset + 8)) {
    return { ok: false, reason: 'checksum mismatch' };
  }
  return { ok: true, record: { offset, length: FRAME_HEADER_BYTES + length, payload } };
}

/** The first offset at or after `from` where a valid frame starts, or -1. */
function resync(buf: Buffer, from: number): number {
  let at = buf.indexOf(FRAME_MAGIC, from);
  while (at >= 0) {
    if (readFrameAt(buf, at).ok) return at;
    at = buf.indexOf(FRAME_MAGIC, at + 1);
  }
  return -1;
}

/**
 * Split the contents of a spool file into valid frames and bad spans. After a bad frame the scan
 * looks for the next valid one: if there is one, the bytes in between are a corrupt span and the
 * records after it are kept; if there is none, everything from the bad frame on is the tail.
 */
export function scanFrames(buf: Buffer): FrameScan {
  const records: FrameRecord[] = [];
  const corrupt: BadSpan[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const attempt = readFrameAt(buf, offset);
    if (attempt.ok) {
      records.push(attempt.record);
      offset += attempt.record.length;
      continue;
    }
    const next = resync(buf, offset + 1);
    if (next < 0) return { records, corrupt, tail: { offset, length: buf.length - offset, reason: attempt.reason } };
    corrupt.push({ offset, length: next - offset, reason: attempt.reason });
    offset = next;
  }
  return { records, corrupt, tail: null };
}
