// Reading an archive segment (JSON lines, or gzipped) as lines: large reads, LF-split, a CR before the LF dropped.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

/** Bytes read from a file (and gunzipped) at a time. */
const READ_CHUNK = 1024 * 1024;
const CR = 0x0d;
const LF = 0x0a;

/** Lines of a segment as byte ranges of one buffer: line i is `data[starts[i], ends[i])`, without its LF (nor a CR before it). */
export interface LineBatch {
  data: Buffer;
  starts: number[];
  ends: number[];
}

/**
 * The file's lines, a batch per read (bytes, not text: a line that is kept as it is is copied, not
 * decoded and encoded again); `onBytes` is told how many bytes of the file (compressed ones for
 * .gz) were read.
 */
export function segmentLines(file: string, onBytes: (bytes: number) => void): AsyncGenerator<LineBatch> {
  const source = createReadStream(file, { highWaterMark: READ_CHUNK });
  source.on('data', (data) => onBytes(data.length));
  let input: AsyncIterable<Buffer> = source;
  if (file.endsWith('.gz')) {
    const gunzip = createGunzip({ chunkSize: READ_CHUNK });
    source.on('error', (err) => gunzip.destroy(err));
    input = source.pipe(gunzip);
  }
  return lines(input);
}

/** The lines split at LF (a CR before it is dropped), the last one even without a final LF. LF never occurs inside a UTF-8 sequence. */
async function* lines(input: AsyncIterable<Buffer>): AsyncGenerator<LineBatch> {
  let rest: Buffer | null = null;
  for await (const chunk of input) {
    const data: Buffer = rest === null ? chunk : Buffer.concat([rest, chunk]);
    const starts: number[] = [];
    const ends: number[] = [];
    let start = 0;
    let nl = data.indexOf(LF);
    while (nl >= 0) {
      starts.push(start);
      ends.push(nl > start && data[nl - 1] === CR ? nl - 1 : nl);
      start = nl + 1;
      nl = data.indexOf(LF, start);
    }
    rest = start < data.length ? data.subarray(start) : null;
    if (starts.length > 0) yield { data, starts, ends };
  }
  if (rest !== null) yield { data: rest, starts: [0], ends: [rest[rest.length - 1] === CR ? rest.length - 1 : rest.length] };
}
