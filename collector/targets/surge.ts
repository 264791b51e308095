// Operator-asked surges: <data_dir>/surge.json (validated, replaced atomically) and the server's view of it (re-read on change, dropped at its end).
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../../common/clock.js';
import { fsyncDir, replaceFile } from '../../common/durable.js';
import type { SurgeAnswer } from '../../contract/wire.js';
import { SurgeError } from '../errors.js';
import { COLLECTOR_SELF, type TargetList } from './list.js';

export const SURGE_FILE = 'surge.json';
/** A surge ends at most this far after it is set (or read). */
export const SURGE_MAX_AHEAD_MS = 7 * 24 * 3_600_000;
export const SURGE_INTERVAL_MINUTES = { min: 1, max: 1440 } as const;

/** What surge.json holds: the answer served to probes, and when the operator set it. */
export interface StoredSurge extends SurgeAnswer {
  set_at: string;
}

/** A surge as asked for (e.g. on the command line), before validation. */
export interface SurgeRequest {
  targets: readonly string[];
  interval_minutes: number;
  /** The end, epoch milliseconds. */
  until: number;
}

export type SurgeState =
  | { state: 'none' }
  | { state: 'active'; surge: StoredSurge }
  | { state: 'expired'; surge: StoredSurge }
  | { state: 'invalid'; problem: string };

const STORED_KEYS = ['targets', 'interval_minutes', 'until', 'set_at'];

export function surgeFilePath(dataDir: string): string {
  return path.join(dataDir, SURGE_FILE);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function quote(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The ids a surge may name: the served targets (never the collector itself). */
export function surgeableIds(list: TargetList): string[] {
  return list.targets.map((t) => t.id).filter((id) => id !== COLLECTOR_SELF.id);
}

/** Check a surge against the served list and the clock; throws SurgeError naming the field and the problem. */
export function validateSurge(request: SurgeRequest, list: TargetList, now: number): SurgeAnswer {
  const known = new Set(surgeableIds(list));
  if (request.targets.length === 0) throw new SurgeError('targets', 'at least one target id is needed');
  const seen = new Set<string>();
  for (const id of request.targets) {
    if (typeof id !== 'string' || id === '') throw new SurgeError('targets', `expected target ids, got ${quote(id)}`);
    if (id === COLLECTOR_SELF.id) throw new SurgeError('targets', `${quote(id)} is the collector itself, not a target probes measure`);
    if (!known.has(id)) {
      const names = [...known];
      const hint = names.length === 0 ? 'the collector serves no target' : `known: ${names.slice(0, 40).join(', ')}${names.length > 40 ? ', ...' : ''}`;
      throw new SurgeError('targets', `unknown target ${quote(id)} (${hint})`);
    }
    if (seen.has(id)) throw new SurgeError('targets', `${quote(id)} is named twice`);
    seen.add(id);
  }
  const minutes = request.interval_minutes;
  const { min, max } = SURGE_INTERVAL_MINUTES;
  if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < min || minutes > max) {
    throw new SurgeError('interval_minutes', `expected a whole number of minutes from ${min} to ${max}, got ${quote(minutes)}`);
  }
  const until = request.until;
  if (typeof until !== 'number' || !Number.isFinite(until) || Number.isNaN(new Date(until).getTime())) {
    throw new SurgeError('until', `expected a time, got ${quote(until)}`);
  }
  if (until <= now) throw new SurgeError('until', `${iso(until)} is not in the future (now is ${iso(now)})`);
  if (until - now > SURGE_MAX_AHEAD_MS) {
    throw new SurgeError('until', `${iso(until)} is more than 7 days ahead (the latest end now is ${iso(now + SURGE_MAX_AHEAD_MS)})`);
  }
  return { targets: [...request.targets], interval_minutes: minutes, until: iso(until) };
}

/** Parse the text of surge.json: the stored surge, or a SurgeError (field `file`, or the field at fault). */
export function parseStoredSurge(text: string, list: TargetList, now: number): { state: 'active' | 'expired'; surge: StoredSurge } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SurgeError('file', `not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SurgeError('file', 'expected a JSON object');
  const v = value as Record<string, unknown>;
  const extra = Object.keys(v).find((k) => !STORED_KEYS.includes(k));
  if (extra !== undefined) throw new SurgeError('file', `unknown key ${quote(extra)}`);
  const missing = STORED_KEYS.find((k) => !(k in v));
  if (missing !== undefined) throw new SurgeError('file', `missing key ${quote(missing)}`);
  const { targets, interval_minutes: minutes, until, set_at: setAt } = v;
  if (!Array.isArray(targets)) throw new SurgeError('targets', 'expected an array of target ids');
  if (typeof until !== 'string' || Number.isNaN(Date.parse(until))) throw new SurgeError('until', `expected an ISO 8601 time, got ${quote(until)}`);
  if (typeof setAt !== 'string' || Number.isNaN(Date.parse(setAt))) throw new SurgeError('file', `set_at: expected an ISO 8601 time, got ${quote(setAt)}`);
  const end = Date.parse(until);
  const stored = (): StoredSurge => ({ targets: targets as string[], interval_minutes: minutes as number, until: iso(end), set_at: setAt });
  if (end <= now) return { state: 'expired', surge: stored() };
  const answer = validateSurge({ targets: targets as string[], interval_minutes: minutes as number, until: end }, list, now);
  return { state: 'active', surge: { ...answer, set_at: iso(Date.parse(setAt)) } };
}

/** Read `<dataDir>/surge.json`; never throws: a missing file is `none`, a damaged or invalid one `invalid`. */
export async function readSurge(dataDir: string, list: TargetList, clock: Clock): Promise<SurgeState> {
  let text: string;
  try {
    text = await readFile(surgeFilePath(dataDir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'none' };
    return { state: 'invalid', problem: `cannot be read (${(err as Error).message})` };
  }
  try {
    return parseStoredSurge(text, list, clock.now());
  } catch (err) {
    if (err instanceof SurgeError) return { state: 'invalid', problem: err.field === 'file' ? err.problem : `${err.field}: ${err.problem}` };
    return { state: 'invalid', problem: (err as Error).message };
  }
}

/**
 * Validate `request` and make it the current surge (replacing any): a temporary file is written and
 * fsynced, renamed over surge.json, and the directory fsynced, so a reader sees the old or the new.
 */
export async function writeSurge(dataDir: string, request: SurgeRequest, list: TargetList, clock: Clock): Promise<StoredSurge> {
  const now = clock.now();
  const stored: StoredSurge = { ...validateSurge(request, list, now), set_at: iso(now) };
  await mkdir(dataDir, { recursive: true });
  // Two surge commands at once each write their own temporary file; the last rename wins.
  await replaceFile(dataDir, path.basename(surgeFilePath(dataDir)), Buffer.from(`${JSON.stringify(stored, null, 2)}\n`), {
    mode: 0o644,
    tempSuffix: `.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  });
  return stored;
}

/** End the current surge (remove surge.json, fsync the directory); whether there was a file. */
export async function clearSurge(dataDir: string): Promise<boolean> {
  try {
    await rm(surgeFilePath(dataDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await fsyncDir(dataDir);
  return true;
}

export interface SurgeLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * The server's view of surge.json: a stat per call, the file re-read only when it changed (inode,
 * size, mtime, ctime), the surge dropped once the clock reaches its end. Never throws.
 */
export class SurgeWatcher {
  readonly #dataDir: string;
  readonly #base: TargetList;
  readonly #clock: Clock;
  readonly #log: SurgeLog;
  #key: string | null = null;
  #state: SurgeState = { state: 'none' };
  #endLogged = false;
  #checking: Promise<void> | null = null;

  constructor(options: { dataDir: string; base: TargetList; clock: Clock; log: SurgeLog }) {
    this.#dataDir = options.dataDir;
    this.#base = options.base;
    this.#clock = options.clock;
    this.#log = options.log;
  }

  get file(): string {
    return surgeFilePath(this.#dataDir);
  }

  /** The surge served now, or null. */
  async current(): Promise<StoredSurge | null> {
    try {
      this.#checking ??= this.#check().finally(() => (this.#checking = null));
      await this.#checking;
    } catch (err) {
      // #check handles its own faults; this is a last guard so that serving never fails.
      this.#log.error({ err }, 'surge: checking the surge file failed; serving no surge');
      return null;
    }
    const s = this.#state;
    if (s.state !== 'active') return null;
    if (this.#clock.now() >= Date.parse(s.surge.until)) {
      if (!this.#endLogged) {
        this.#endLogged = true;
        this.#log.info({ surge: s.surge }, `surge: ended at ${s.surge.until}; no longer served`);
      }
      return null;
    }
    return s.surge;
  }

  async #check(): Promise<void> {
    let key: string;
    try {
      const s = await stat(this.file);
      key = `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      key = code === 'ENOENT' ? 'none' : `error:${code ?? String(err)}`;
    }
    if (key === this.#key) return;
    this.#key = key;
    const before = this.#state;
    const next = key === 'none' ? ({ state: 'none' } as const) : await readSurge(this.#dataDir, this.#base, this.#clock);
    this.#state = next;
    this.#endLogged = false;
    if (next.state === 'active') {
      const { targets, interval_minutes, until } = next.surge;
      if (before.state !== 'active' || JSON.stringify(before.surge) !== JSON.stringify(next.surge)) {
        this.#log.info({ surge: next.surge }, `surge: asking probes to measure ${targets.join(', ')} every ${interval_minutes} min until ${until}`);
      }
    } else if (next.state === 'invalid') {
      this.#log.error({ file: this.file, problem: next.problem }, `surge: ${this.file} is invalid, serving no surge: ${next.problem}`);
    } else if (next.state === 'expired') {
      this.#endLogged = true;
      this.#log.info({ surge: next.surge }, `surge: the surge in ${this.file} ended at ${next.surge.until}; not served`);
    } else if (before.state === 'active') {
      this.#log.info({}, 'surge: stopped by the operator');
    }
  }
}
