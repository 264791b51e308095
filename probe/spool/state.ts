// The spool's small state file: how many records the disk cap dropped, which drops are not yet reported, drops in progress.

export const STATE_FILE = 'state.json';
const STATE_VERSION = 1;
/** Unreported drops are kept as events; beyond this many two old neighbours merge (the earlier time is kept). */
export const MAX_DROP_EVENTS = 64;

/** One drop: `count` records dropped at time `at` (ISO 8601 UTC). */
export interface DropEvent {
  at: string;
  count: number;
}

export interface SpoolState {
  /** Records dropped by the disk cap since the spool was created. */
  dropped: number;
  first_dropped_at: string | null;
  last_dropped_at: string | null;
  /** Drops not yet acknowledged as reported to the collector, oldest first. */
  unreported: DropEvent[];
  /**
   * Segments being dropped: counted above but perhaps still on disk. Open finishes their removal,
   * so a crash in the middle of a drop neither loses the count nor counts twice.
   */
  dropping: number[];
}

export function emptyState(): SpoolState {
  return { dropped: 0, first_dropped_at: null, last_dropped_at: null, unreported: [], dropping: [] };
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isTime(v: unknown): v is string {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

/** The state in `text`, or the problem that makes it unusable. */
export function parseState(text: string): SpoolState | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { problem: `not JSON: ${(err as Error).message}` };
  }
  if (typeof raw !== 'object' || raw === null) return { problem: 'not an object' };
  const o = raw as Record<string, unknown>;
  if (o['version'] !== STATE_VERSION) return { problem: `unsupported version ${JSON.stringify(o['version'])}` };
  const { dropped, first_dropped_at: first, last_dropped_at: last, unreported, dropping } = o;
  if (!isCount(dropped)) return { problem: 'dropped: not a count' };
  if (first !== null && !isTime(first)) return { problem: 'first_dropped_at: not a time' };
  if (last !== null && !isTime(last)) return { problem: 'last_dropped_at: not a time' };
  if (!Array.isArray(unreported) || !unreported.every((e) => typeof e === 'object' && e !== null && isTime(e.at) && isCount(e.count))) {
    return { problem: 'unreported: not a list of {at, count}' };
  }
  if (!Array.isArray(dropping) || !dropping.every(isCount)) return { problem: 'dropping: not a list of segment numbers' };
  return {
    dropped,
    first_dropped_at: first,
    last_dropped_at: last,
    unreported: (unreported as DropEvent[]).map((e) => ({ at: e.at, count: e.count })),
    dropping: [...dropping],
  };
}

export function serializeState(state: SpoolState): Buffer {
  return Buffer.from(`${JSON.stringify({ version: STATE_VERSION, ...state })}\n`, 'utf8');
}

/** Count `count` records dropped at `at`. */
export function withDrop(state: SpoolState, count: number, at: string, inFlight = 0): SpoolState {
  if (count <= 0) return state;
  // Each drop gets its own time, later than every earlier one: a report is known by its first drop's
  // time, so two reports must never start at the same instant.
  const last = state.last_dropped_at === null ? -Infinity : Date.parse(state.last_dropped_at);
  const when = Date.parse(at) > last ? at : new Date(last + 1).toISOString();
  const unreported = [...state.unreported, { at: when, count }];
  while (unreported.length > MAX_DROP_EVENTS) {
    // Merge two neighbours that the report in flight covers both, or neither: its confirmation then
    // removes whole events, and what remains starts at a drop that report did not name.
    let covered = 0;
    let k = 0;
    while (k < unreported.length && covered + unreported[k]!.count <= inFlight) covered += unreported[k++]!.count;
    const i = k === 1 ? 1 : 0;
    const [a, b] = unreported.splice(i, 2) as [DropEvent, DropEvent];
    unreported.splice(i, 0, { at: a.at, count: a.count + b.count });
  }
  return {
    ...state,
    dropped: state.dropped + count,
    first_dropped_at: state.first_dropped_at ?? when,
    last_dropped_at: when,
    unreported,
  };
}

/** What the collector has not yet been told about, or null. */
export function unreportedOverflow(state: SpoolState): { dropped: number; firstDroppedAt: string; lastDroppedAt: string } | null {
  const first = state.unreported[0];
  const last = state.unreported.at(-1);
  if (first === undefined || last === undefined) return null;
  return { dropped: state.unreported.reduce((n, e) => n + e.count, 0), firstDroppedAt: first.at, lastDroppedAt: last.at };
}

/** The `reported` oldest unreported drops are now known to the collector. */
export function withReported(state: SpoolState, reported: number): SpoolState {
  let left = reported;
  const unreported: DropEvent[] = [];
  for (const e of state.unreported) {
    if (left >= e.count) {
      left -= e.count;
      continue;
    }
    unreported.push({ at: e.at, count: e.count - left });
    left = 0;
  }
  return { ...state, unreported };
}
