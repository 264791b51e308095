// The importer's side of a segment parsed in a worker thread: its chunks in order, a few read ahead, the worker stopped when done or abandoned.
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../common/worker.js';
import { ImportReadError } from '../errors.js';
import type { ParseContext, ParsedChunk, ParseOptions } from './segment-parse.js';

export type ToImportWorker = { type: 'credit' };
export type FromImportWorker = { type: 'chunk'; chunk: ParsedChunk } | { type: 'end' } | { type: 'fail'; message: string; code: string | null };

/** Heap of a parsing worker: it holds a few chunks' digests and lines, and one record at a time. */
const WORKER_OLD_SPACE_MB = 96;

export class SegmentReader {
  private readonly worker: Worker;
  private readonly queue: FromImportWorker[] = [];
  private waiting: ((message: FromImportWorker) => void) | null = null;
  private finished = false;

  /** Starts parsing at once; `ahead` chunks are parsed before the first is taken. */
  constructor(
    readonly file: string,
    ctx: ParseContext,
    options: ParseOptions,
    ahead = 2,
  ) {
    this.worker = startWorker(new URL('./import-worker.js', import.meta.url), import.meta.url, {
      workerData: { file, ctx, options, credit: Math.max(1, ahead) },
      resourceLimits: { maxOldGenerationSizeMb: WORKER_OLD_SPACE_MB },
    });
    this.worker.on('message', (message: FromImportWorker) => this.push(message));
    this.worker.on('error', (err) => this.push({ type: 'fail', message: err.message, code: (err as NodeJS.ErrnoException).code ?? null }));
    this.worker.on('exit', (code) => {
      if (!this.finished) this.push({ type: 'fail', message: `the parsing worker stopped (exit code ${code})`, code: null });
    });
  }

  /** The segment's chunks in file order; a read fault of the file is thrown as ImportReadError. */
  async *chunks(): AsyncGenerator<ParsedChunk> {
    try {
      for (;;) {
        const message = this.queue.shift() ?? (await new Promise<FromImportWorker>((resolve) => (this.waiting = resolve)));
        if (message.type === 'end') return;
        if (message.type === 'fail') throw new ImportReadError(this.file, message.message, message.code);
        this.worker.postMessage({ type: 'credit' } satisfies ToImportWorker);
        yield message.chunk;
      }
    } finally {
      await this.close();
    }
  }

  /** Stop the worker (whether or not it is done). */
  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.worker.terminate();
  }

  private push(message: FromImportWorker): void {
    if (this.finished) return;
    const waiting = this.waiting;
    if (waiting !== null) {
      this.waiting = null;
      waiting(message);
    } else this.queue.push(message);
  }
}
