// The run in flight, target by target: each measured target is written (and synced) here as soon as it is measured, so that a run cut short by a crash can be judged and spooled at the next start.
import { open, readFile, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { FILE_MODE, fsyncDir } from '../../common/durable.js';
import type { MeasuredTarget } from '../engine/run.js';

const FILE = 'run-journal.jsonl';

export class RunJournal {
  private handle: FileHandle | null = null;
  private readonly file: string;

  constructor(private readonly dir: string) {
    this.file = path.join(dir, FILE);
  }

  /** Start a run's journal (a new, empty file). */
  async begin(): Promise<void> {
    await this.close();
    this.handle = await open(this.file, 'w', FILE_MODE);
    await fsyncDir(this.dir);
  }

  /** Add a measured target; resolves once it is on disk. */
  async note(measured: MeasuredTarget): Promise<void> {
    if (this.handle === null) return;
    await this.handle.write(`${JSON.stringify(measured)}\n`);
    await this.handle.datasync();
  }

  /**
   * The run is measured and judged: what follows are its appends to the spool. Not synced: a kill
   * leaves the page cache to the kernel; after a power cut the run counts as cut short.
   */
  async judged(): Promise<void> {
    await this.handle?.write('{"judged":true}\n');
  }

  /** A measurement of the run is in the spool (not synced either: one repeated after a crash is answered "duplicate"). */
  async spooled(id: string): Promise<void> {
    await this.handle?.write(`${JSON.stringify({ spooled: id })}\n`);
  }

  /** The run's measurements are in the spool: the journal goes. */
  async end(): Promise<void> {
    await this.close();
    await rm(this.file, { force: true });
  }

  /**
   * What a run cut short left: its measured targets (a torn last line, written when the crash came,
   * is left out), or none when the last run ended normally.
   */
  async left(): Promise<{ measured: MeasuredTarget[]; judged: boolean; spooled: Set<string> }> {
    const left = { measured: [] as MeasuredTarget[], judged: false, spooled: new Set<string>() };
    const text = await readFile(this.file, 'utf8').catch(() => null);
    if (text === null) return left;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        const v = JSON.parse(line) as Partial<MeasuredTarget> & { judged?: unknown; spooled?: unknown };
        if (v.judged === true) left.judged = true;
        else if (typeof v.spooled === 'string') left.spooled.add(v.spooled);
        else if (typeof v.id === 'string' && typeof v.target?.id === 'string' && typeof v.startedAt === 'number' && v.result?.evidence !== undefined) {
          // A target measured again (packet loss suspected) is noted twice: the later note replaces the earlier.
          const at = left.measured.findIndex((m) => m.id === v.id);
          if (at >= 0) left.measured[at] = v as MeasuredTarget;
          else left.measured.push(v as MeasuredTarget);
        }
      } catch {
        // the torn last line of a crash
      }
    }
    return left;
  }

  private async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    await h?.close();
  }
}
