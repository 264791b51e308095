// `ashyq-collector surge`: start or replace, stop, or show the surge kept in the data directory.
import type { Clock } from '../../common/clock.js';
import { parseDuration } from '../../common/duration.js';
import { SURGE_DEFAULT_LIMITS } from '../../contract/wire.js';
import type { CollectorConfig } from '../config.js';
import { SurgeError, UsageError } from '../errors.js';
import { loadTargetList } from '../targets/list.js';
import { clearSurge, readSurge, surgeFilePath, writeSurge, type StoredSurge } from '../targets/surge.js';
import { InputError, type Output } from './output.js';

export interface SurgeArgs {
  targets: string | undefined;
  every: string | undefined;
  for: string | undefined;
  until: string | undefined;
  stop: boolean;
}

/** An ISO 8601 date and time with a zone (Z or ±hh:mm), in ms; null otherwise (a time without a zone is ambiguous). */
function parseIsoTime(text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}

function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m || (!d && !h) ? `${m}m` : ''].join('');
}

/** What a probe on the default schedule does with `surge`, and what limits every volunteer's own config. */
function probeEffect(surge: StoredSurge, now: number): string {
  const d = SURGE_DEFAULT_LIMITS;
  const every = Math.max(surge.interval_minutes, d.surge_min_interval_minutes);
  const lasts = Math.min(Date.parse(surge.until) - now, d.surge_max_hours * 3_600_000);
  return (
    `Probes see it when they next ask for the target list (every surge_min_interval_minutes or interval_minutes,\n` +
    `whichever is shorter) and measure ${surge.targets.join(', ')} (and the canaries) every\n` +
    `max(${surge.interval_minutes}, surge_min_interval_minutes) minutes, for at most surge_max_hours of a surge;\n` +
    `each volunteer's config sets both. On the defaults (${d.surge_min_interval_minutes} min, ${d.surge_max_hours} h): every ${every} min for ${duration(lasts)}.\n` +
    `Probes with surge_max_hours: 0 ignore surges; targets a probe does not have are skipped.\n`
  );
}

function describeSurge(surge: StoredSurge, now: number): string {
  return `surge: ${surge.targets.join(', ')} every ${surge.interval_minutes} min until ${surge.until} (${duration(Date.parse(surge.until) - now)} from now; set ${surge.set_at})\n`;
}

/** `surge`: start or replace (--targets ...), end (--stop) or show the surge in the data dir. */
export async function runSurge(config: CollectorConfig, args: SurgeArgs, clock: Clock, stdout: Output): Promise<number> {
  const starting = args.targets !== undefined || args.every !== undefined || args.for !== undefined || args.until !== undefined;
  if (args.stop) {
    if (starting) throw new UsageError('--stop takes no other surge option');
    const had = await clearSurge(config.data_dir);
    stdout.write(had ? 'ashyq-collector: surge stopped; probes return to their regular schedule at their next target-list check\n' : 'ashyq-collector: there was no surge\n');
    return 0;
  }
  const list = await loadTargetList(config.targets_file);
  if (!starting) {
    const state = await readSurge(config.data_dir, list, clock);
    const now = clock.now();
    switch (state.state) {
      case 'none':
        stdout.write('no surge\n');
        return 0;
      case 'expired':
        stdout.write(`no surge (the last one, ${state.surge.targets.join(', ')}, ended at ${state.surge.until})\n`);
        return 0;
      case 'active':
        stdout.write(describeSurge(state.surge, now));
        return 0;
      case 'invalid':
        stdout.write(`no surge served: ${surgeFilePath(config.data_dir)} is invalid: ${state.problem}\n`);
        return 1;
    }
  }
  if (args.targets === undefined) throw new UsageError('--targets is required to start a surge (target ids separated by commas)');
  if (args.every === undefined) throw new UsageError('--every is required to start a surge (minutes between measurements, 1-1440)');
  if (args.for !== undefined && args.until !== undefined) throw new UsageError('give --for or --until, not both');
  if (args.for === undefined && args.until === undefined) throw new UsageError('--for (e.g. 2h) or --until (an ISO 8601 time) is required to start a surge');
  const targets = args.targets.split(',').map((t) => t.trim());
  if (targets.some((t) => t === '')) throw new InputError(`--targets: an empty target id in ${JSON.stringify(args.targets)}`);
  if (!/^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$/.test(args.every)) throw new InputError(`--every: expected a whole number of minutes, got ${JSON.stringify(args.every)}`);
  const every = Number(args.every);
  const now = clock.now();
  let until: number;
  if (args.for !== undefined) {
    const ms = parseDuration(args.for);
    if (ms === null) throw new InputError(`--for: expected a duration such as 90m, 2h, 1d or 1h30m, got ${JSON.stringify(args.for)}`);
    until = now + ms;
  } else {
    const at = parseIsoTime(args.until!);
    if (at === null) throw new InputError(`--until: expected an ISO 8601 time with a zone, e.g. 2024-05-09T14:00:00+05:00, got ${JSON.stringify(args.until)}`);
    until = at;
  }
  let stored: StoredSurge;
  try {
    stored = await writeSurge(config.data_dir, { targets, interval_minutes: every, until }, list, clock);
  } catch (err) {
    if (!(err instanceof SurgeError)) throw err;
    const flag = { targets: '--targets', interval_minutes: '--every', until: args.for !== undefined ? '--for' : '--until', file: 'surge' }[err.field];
    throw new InputError(`${flag}: ${err.problem}`);
  }
  stdout.write(`ashyq-collector: ${describeSurge(stored, now)}`);
  stdout.write(probeEffect(stored, now));
  return 0;
}

