// Reading one archived record back by its position (segment, offset): a plain day is read in place, a closed day is gunzipped up to it.
import { open } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { InvalidArgumentError } from '../../common/errors.js';
import { ArchiveCorruptError } from '../errors.js';
import type { ArchiveCursor, ArchivedRecord } from './archive.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const NEWLINE = 0x0a;
/** Bytes read at a time from a plain segment while looking for the end of the line. */
const PLAIN_CHUNK = 64 * 1024;
/** Decompressed chunk size for a closed day: large chunks cost fewer callbacks on the way to the offset. */
const GZ_CHUNK = 1024 * 1024;

function parseLine(at: ArchiveCursor, line: Buffer): ArchivedRecord {
  try {
    return JSON.parse(line.toString('utf8')) as ArchivedRecord;
  } catch {
    throw new ArchiveCorruptError(at.segment, at.offset, 'not a JSON line');
  }
}

function missing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The line at `at.offset` of a plain segment; undefined when the file does not exist (closed since), null past its end. */
async function readPlain(file: string, at: ArchiveCursor): Promise<ArchivedRecord | null | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if (missing(err)) return undefined;
    throw err;
  }
  try {
    const parts: Buffer[] = [];
    let position = at.offset;
    for (;;) {
      const chunk = Buffer.alloc(PLAIN_CHUNK);
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) return null; // past the end, or a line not complete (never indexed)
      const nl = chunk.subarray(0, bytesRead).indexOf(NEWLINE);
      if (nl >= 0) {
        parts.push(chunk.subarray(0, nl));
        return parseLine(at, Buffer.concat(parts));
      }
      parts.push(chunk.subarray(0, bytesRead));
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** The line at `at.offset` of the uncompressed text of a gzipped segment; undefined when the file does not exist. */
async function readGzipped(file: string, at: ArchiveCursor): Promise<ArchivedRecord | null | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if (missing(err)) return undefined;
    throw err;
  }
  const source = handle.createReadStream({ autoClose: true, highWaterMark: GZ_CHUNK });
  const gunzip = createGunzip({ chunkSize: GZ_CHUNK });
  source.on('error', (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  try {
    let passed = 0; // uncompressed bytes before the current chunk
    const parts: Buffer[] = [];
    for await (const raw of gunzip) {
      const chunk = raw as Buffer;
      const end = passed + chunk.length;
      if (end <= at.offset) {
        passed = end;
        continue;
      }
      const from = parts.length === 0 ? at.offset - passed : 0;
      const nl = chunk.indexOf(NEWLINE, from);
      if (nl >= 0) {
        parts.push(chunk.subarray(from, nl));
        return parseLine(at, Buffer.concat(parts));
      }
      parts.push(chunk.subarray(from));
      passed = end;
    }
    return null;
  } finally {
    source.destroy();
    gunzip.destroy();
  }
}

/**
 * The record whose JSON line starts at `at` in the archive in `dir`, or null when there is no such
 * segment or the offset is past its end. A day is tried plain first and then gzipped, so a day
 * compressed between the look-up and the read is still found.
 */
export async function readRecordAt(dir: string, at: ArchiveCursor): Promise<ArchivedRecord | null> {
  if (!DAY.test(at.segment)) throw new InvalidArgumentError(`not an archive segment: ${at.segment}`);
  if (!Number.isSafeInteger(at.offset) || at.offset < 0) throw new InvalidArgumentError(`not an archive offset: ${at.offset}`);
  const plain = path.join(dir, `${at.segment}.jsonl`);
  const first = await readPlain(plain, at);
  if (first !== undefined) return first;
  const gz = await readGzipped(`${plain}.gz`, at);
  return gz ?? null;
}
