// The worker thread of an import: parses and checks one segment, posting its chunks to the importer as it grants credit.
import { parentPort, workerData } from 'node:worker_threads';
import { parseSegment, type ParseContext, type ParseOptions } from './segment-parse.js';
import type { FromImportWorker, ToImportWorker } from './segment-reader.js';

interface Start {
  file: string;
  ctx: ParseContext;
  options: ParseOptions;
  /** Chunks it may post before the importer has taken any. */
  credit: number;
}

const port = parentPort!;
const start = workerData as Start;
let credit = start.credit;
let granted: (() => void) | null = null;
port.on('message', (message: ToImportWorker) => {
  if (message.type !== 'credit') return;
  credit++;
  granted?.();
  granted = null;
});

const post = (message: FromImportWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

try {
  await parseSegment(start.file, start.ctx, start.options, async (chunk) => {
    while (credit === 0) await new Promise<void>((resolve) => (granted = resolve));
    credit--;
    post({ type: 'chunk', chunk }, [chunk.data.buffer as ArrayBuffer, chunk.ends.buffer as ArrayBuffer]);
  });
  post({ type: 'end' });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  post({ type: 'fail', message: e.message, code: typeof e.code === 'string' ? e.code : null });
}
port.close();
