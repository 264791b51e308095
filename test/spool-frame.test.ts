// Spool record framing: the byte layout, CRC-32, and the scan that separates records from torn and corrupt bytes.
import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_HEADER_BYTES, FRAME_MAGIC, MAX_FRAME_PAYLOAD, readFrameAt, scanFrames } from '../probe/spool/frame.js';

/** An independent bitwise CRC-32 (IEEE, reflected, poly 0xEDB88320) to check the one the frames use. */
function referenceCrc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const payloads = ['{"id":"a"}', '{"id":"bb","n":[1,2,3]}', '{"id":"ccc","text":"Қазақстан"}'].map((s) => Buffer.from(s, 'utf8'));

describe('frame encoding', () => {
  it('lays out magic, big-endian length, CRC-32 of length+payload, payload', () => {
    const payload = Buffer.from('{"id":"x"}', 'utf8');
    const frame = encodeFrame(payload);
    expect(frame.length).toBe(FRAME_HEADER_BYTES + payload.length);
    expect(frame.subarray(0, 4)).toEqual(Buffer.from([0x00, 0x61, 0x73, 0x71]));
    expect(frame.readUInt32BE(4)).toBe(payload.length);
    expect(frame.readUInt32BE(8)).toBe(referenceCrc32(Buffer.concat([frame.subarray(4, 8), payload])));
    expect(frame.subarray(12)).toEqual(payload);
  });

  it('agrees with the standard CRC-32 check value', () => {
    expect(referenceCrc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('refuses payloads beyond the limit', () => {
    expect(() => encodeFrame(Buffer.alloc(MAX_FRAME_PAYLOAD + 1))).toThrow(RangeError);
  });

  it('reads back what it wrote, an empty payload included', () => {
    const frame = encodeFrame(Buffer.alloc(0));
    const attempt = readFrameAt(frame, 0);
    expect(attempt.ok).toBe(true);
    if (attempt.ok) expect(attempt.record).toEqual({ offset: 0, length: FRAME_HEADER_BYTES, payload: Buffer.alloc(0) });
  });
});

describe('scanFrames', () => {
  const frames = payloads.map(encodeFrame);
  const file = Buffer.concat(frames);
  const offsets = [0, frames[0]!.length, frames[0]!.length + frames[1]!.length];

  it('finds every record of an intact file and nothing else', () => {
    const scan = scanFrames(file);
    expect(scan.corrupt).toEqual([]);
    expect(scan.tail).toBeNull();
    expect(scan.records.map((r) => r.payload.toString('utf8'))).toEqual(payloads.map((p) => p.toString('utf8')));
    expect(scan.records.map((r) => r.offset)).toEqual(offsets);
  });

  it('an empty file is empty', () => {
    expect(scanFrames(Buffer.alloc(0))).toEqual({ records: [], corrupt: [], tail: null });
  });

  it('a cut at every byte of the last frame leaves the others and reports the rest as the tail', () => {
    const last = offsets[2]!;
    for (let cut = last + 1; cut < file.length; cut++) {
      const scan = scanFrames(file.subarray(0, cut));
      expect(scan.records.map((r) => r.offset)).toEqual(offsets.slice(0, 2));
      expect(scan.corrupt).toEqual([]);
      expect(scan.tail).toMatchObject({ offset: last, length: cut - last });
      expect(scan.tail!.reason).toMatch(cut - last < FRAME_HEADER_BYTES ? /truncated header/ : /truncated payload/);
    }
  });

  it('a changed byte anywhere in a middle frame sets that frame aside and keeps the frames after it', () => {
    const [start, end] = [offsets[1]!, offsets[2]!];
    for (let at = start; at < end; at++) {
      for (const flip of [0x01, 0x80, 0xff]) {
        const damaged = Buffer.from(file);
        damaged[at] = damaged[at]! ^ flip;
        const scan = scanFrames(damaged);
        expect(scan.records.map((r) => r.payload.toString('utf8')), `byte ${at} ^ ${flip}`).toEqual([payloads[0]!.toString('utf8'), payloads[2]!.toString('utf8')]);
        expect(scan.corrupt).toEqual([{ offset: start, length: end - start, reason: expect.any(String) }]);
        expect(scan.tail).toBeNull();
      }
    }
  });

  it('names the reason: magic, checksum, implausible length', () => {
    const badMagic = Buffer.from(file);
    badMagic[offsets[1]! + 1] = 0x41;
    expect(scanFrames(badMagic).corrupt[0]!.reason).toBe('bad magic');
    const badCrc = Buffer.from(file);
    badCrc[offsets[1]! + FRAME_HEADER_BYTES] = 0x20;
    expect(scanFrames(badCrc).corrupt[0]!.reason).toBe('checksum mismatch');
    const hugeLength = Buffer.from(file);
    hugeLength.writeUInt32BE(0xfffffff0, offsets[1]! + 4);
    expect(scanFrames(hugeLength).corrupt[0]!.reason).toMatch(/implausible length/);
  });

  it('a zero-filled tail (what a power cut can leave after a size update) is a tail, not a record', () => {
    const scan = scanFrames(Buffer.concat([file, Buffer.alloc(4096)]));
    expect(scan.records).toHaveLength(3);
    expect(scan.tail).toMatchObject({ offset: file.length, length: 4096, reason: 'bad magic' });
  });

  it('garbage before the first frame is a corrupt span; the magic inside a payload never starts a frame', () => {
    const scan = scanFrames(Buffer.concat([Buffer.from('garbage'), FRAME_MAGIC, Buffer.from('more'), file]));
    expect(scan.records).toHaveLength(3);
    expect(scan.corrupt).toEqual([{ offset: 0, length: 7 + FRAME_MAGIC.length + 4, reason: 'bad magic' }]);
  });
});
