// Reading an archive segment (JSON lines, or gzipped) as lines of text: large reads, LF-split, a CR before the LF dropped.
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';

/** Bytes read from a file (and gunzipped) at a time. */
const READ_CHUNK = 1024 * 1024;
const CR = 0x0d;

/** The file's lines; `onBytes` is told how many bytes of the file (compressed ones for .gz) were read. */
export function segmentLines(file: string, onBytes: (bytes: number) => void): AsyncGenerator<string> {
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
