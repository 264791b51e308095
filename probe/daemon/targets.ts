// The daemon's target list: the collector's (conditional fetch, cached in the state directory), else the local file; a bad list never replaces a good one.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { loadTargets, parseTargets } from '../../contract/target-list.js';
import type { Clock } from '../../common/clock.js';
import { ConfigErrors } from '../../common/errors.js';
import type { TlsObservation } from '../../contract/evidence.js';
import { replaceFile } from '../../common/durable.js';
import type { Target } from '../../contract/target.js';
import { UploadError, type CollectorClient, type Surge } from '../upload/client.js';
import { errorText, type Log } from './log.js';
import type { TargetsStatus } from './status.js';

export const TARGETS_CACHE = 'targets.json';
const CACHE_VERSION = 1;

/** What is kept on disk: the collector's list as served (surge split off), its ETag, and the surge that came with it. */
interface CacheFile {
  version: typeof CACHE_VERSION;
  etag: string | null;
  fetched_at: string;
  text: string;
  surge: Surge | null;
}

export interface TargetSourceOptions {
  stateDir: string;
  /** The local target file (the config's targets_file or the packaged one): the fallback. */
  localFile: string;
  client: Pick<CollectorClient, 'fetchTargets'> | null;
  /** Names the collector's list in messages, e.g. its URL. */
  collectorName: string;
  clock: Clock;
  log: Log;
  onPinMismatch?: (evidence: TlsObservation) => void;
}

export type RefreshOutcome = 'changed' | 'unchanged' | 'failed' | 'rejected';

function problems(err: unknown): string {
  if (err instanceof ConfigErrors) {
    const first = err.errors.slice(0, 3).map((e) => e.message);
    return `${first.join('; ')}${err.errors.length > 3 ? `; and ${err.errors.length - 3} more` : ''}`;
  }
  return errorText(err);
}

export class TargetSource {
  readonly #o: TargetSourceOptions;
  #targets: Target[] = [];
  #surge: Surge | null = null;
  #status: TargetsStatus = { source: 'local', count: 0, etag: null, checked_at: null, updated_at: null, last_error: null };
  /** The ETag of a list already rejected (not logged again at every poll). */
  #rejectedEtag: string | null = null;

  constructor(options: TargetSourceOptions) {
    this.#o = options;
  }

  targets(): Target[] {
    return this.#targets;
  }

  /** The surge the collector's current list asks for (null: none, or no collector). */
  surge(): Surge | null {
    return this.#surge;
  }

  status(): TargetsStatus {
    return { ...this.#status };
  }

  get #cacheFile(): string {
    return path.join(this.#o.stateDir, TARGETS_CACHE);
  }

  #now(): string {
    return new Date(this.#o.clock.now()).toISOString();
  }

  /**
   * The list to start with: the cached collector list, else a fresh one from the collector, else the
   * local file. A local file that does not validate is a configuration fault (ConfigErrors).
   */
  async load(): Promise<Target[]> {
    const cached = await this.#readCache();
    if (cached !== null) {
      this.#use(cached.targets, cached.file.surge, { source: 'cache', etag: cached.file.etag, updated_at: cached.file.fetched_at });
      return this.#targets;
    }
    if (this.#o.client !== null && (await this.refresh()) === 'changed') return this.#targets;
    const local = await loadTargets(this.#o.localFile);
    this.#use(local, null, { source: 'local', etag: null, updated_at: this.#now() });
    this.#o.log('info', `targets: ${local.length} from ${this.#o.localFile}${this.#o.client !== null ? ' until the collector answers' : ''}`);
    return this.#targets;
  }

  /** Ask the collector (conditionally); a valid new list replaces the one in use and the cache. */
  async refresh(): Promise<RefreshOutcome> {
    const client = this.#o.client;
    if (client === null) return 'unchanged';
    const etag = this.#status.source === 'local' ? null : this.#status.etag;
    this.#status.checked_at = this.#now();
    let answer: Awaited<ReturnType<CollectorClient['fetchTargets']>>;
    try {
      answer = await client.fetchTargets(etag);
    } catch (err) {
      if (err instanceof UploadError && err.kind === 'pin_mismatch' && err.pinEvidence !== undefined) this.#o.onPinMismatch?.(err.pinEvidence);
      this.#status.last_error = `fetching the target list: ${errorText(err)}`;
      return 'failed';
    }
    if (answer.status === 'not-modified') {
      this.#status.last_error = null;
      return 'unchanged';
    }
    const name = `${this.#o.collectorName} target list`;
    let targets: Target[];
    try {
      targets = parseTargets(answer.text, name);
    } catch (err) {
      if (!(err instanceof ConfigErrors)) throw err;
      const why = `the collector's target list was REJECTED (the last good list stays in use): ${problems(err)}`;
      this.#status.last_error = why;
      if (answer.etag === null || answer.etag !== this.#rejectedEtag) this.#o.log('error', `targets: ${why}`);
      this.#rejectedEtag = answer.etag;
      return 'rejected';
    }
    const file: CacheFile = { version: CACHE_VERSION, etag: answer.etag, fetched_at: this.#now(), text: answer.text, surge: answer.surge };
    try {
      await replaceFile(this.#o.stateDir, TARGETS_CACHE, Buffer.from(`${JSON.stringify(file)}\n`, 'utf8'));
    } catch (err) {
      this.#o.log('warn', `targets: could not cache the collector's list in ${this.#cacheFile} (${errorText(err)}); using it anyway`);
    }
    const before = JSON.stringify([this.#targets, this.#surge]);
    this.#use(targets, answer.surge, { source: 'collector', etag: answer.etag, updated_at: file.fetched_at });
    this.#status.last_error = null;
    const changed = before !== JSON.stringify([this.#targets, this.#surge]);
    if (changed) this.#o.log('info', `targets: ${targets.length} from the collector${answer.surge !== null ? `; surge asked for ${answer.surge.targets.join(', ')}` : ''}`);
    return changed ? 'changed' : 'unchanged';
  }

  #use(targets: Target[], surge: Surge | null, status: Pick<TargetsStatus, 'source' | 'etag' | 'updated_at'>): void {
    this.#targets = targets;
    this.#surge = surge;
    this.#status = { ...this.#status, ...status, count: targets.length };
  }

  async #readCache(): Promise<{ file: CacheFile; targets: Target[] } | null> {
    let text: string;
    try {
      text = await readFile(this.#cacheFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      this.#o.log('warn', `targets: cannot read the cached list ${this.#cacheFile} (${errorText(err)}); ignoring it`);
      return null;
    }
    try {
      const file = JSON.parse(text) as CacheFile;
      if (file.version !== CACHE_VERSION || typeof file.text !== 'string') throw new Error('not a target cache of this version');
      return { file, targets: parseTargets(file.text, this.#cacheFile) };
    } catch (err) {
      this.#o.log('warn', `targets: the cached list ${this.#cacheFile} is unusable (${problems(err)}); ignoring it`);
      return null;
    }
  }
}
