// The schedule and its driver under fake timers: jittered intervals, overruns, canaries, surges, deadlines and stopping.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../common/clock.js';
import { Schedule, type PlannedRun, type ScheduleTiming } from '../probe/daemon/schedule.js';
import { DaemonStoppingError, RunDeadlineError } from '../probe/errors.js';
import { Scheduler } from '../probe/daemon/scheduler.js';
import type { Target } from '../contract/target.js';

const MIN = 60_000;
const T0 = Date.UTC(2024, 4, 9, 7, 0, 0);

/** Reads the (fake) Date, which vi.advanceTimersByTime moves. */
const clock: Clock = { now: () => Date.now(), monotonic: () => Date.now() };

function target(id: string, category: Target['category'] = 'social'): Target {
  return {
    id,
    name: id,
    category,
    ...(category === 'canary' ? { canary: id.includes('domestic') ? ('domestic' as const) : ('international' as const) } : {}),
    domains: [`${id}.example.org`],
    endpoints: [],
    ports: [443],
    tls_ports: [443],
    http: null,
  };
}

const YOUTUBE = target('youtube', 'video');
const TELEGRAM = target('telegram', 'messenger');
const CANARY_D = target('canary-domestic', 'canary');
const CANARY_I = target('canary-international', 'canary');
const ALL = [YOUTUBE, TELEGRAM, CANARY_D, CANARY_I];

function settings(over: Partial<ScheduleTiming> = {}): ScheduleTiming {
  return { intervalMs: 60 * MIN, jitterFraction: 0.1, surgeMinIntervalMs: 10 * MIN, surgeMaxMs: 6 * 3_600_000, ...over };
}

/** A random source that returns the given values in turn, then 0.5 (no jitter). */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++] ?? 0.5;
}

/** A small deterministic PRNG, so that every run draws the same jitter. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Recorded {
  at: number;
  ids: string[];
  planned: PlannedRun;
}

/** A scheduler whose runs take `durationMs` (fake time) each; records every start and the peak of concurrent runs. */
function harness(schedule: Schedule, durationMs: number | (() => number) = 1000, extra: { runDeadlineMs?: number } = {}) {
  const runs: Recorded[] = [];
  const errors: unknown[] = [];
  let inFlight = 0;
  let peak = 0;
  const scheduler = new Scheduler({
    schedule,
    clock,
    runDeadlineMs: extra.runDeadlineMs ?? 30 * MIN,
    run: (targets, signal, planned) => {
      runs.push({ at: Date.now(), ids: targets.map((t) => t.id), planned });
      inFlight++;
      peak = Math.max(peak, inFlight);
      const ms = typeof durationMs === 'function' ? durationMs() : durationMs;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          inFlight--;
          resolve();
        }, ms);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          inFlight--;
          reject(signal.reason);
        });
      });
    },
    onRunError: (err) => errors.push(err),
  });
  return { scheduler, runs, errors, peak: () => peak };
}

/** Stop with no grace: the abort of a run in flight goes through a (fake) zero-delay timer. */
async function stopNow(scheduler: Scheduler): Promise<void> {
  const stopped = scheduler.stop(0);
  await vi.advanceTimersByTimeAsync(1);
  await stopped;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the regular schedule', () => {
  it('measures every target every interval, each run jittered within ±jitter_fraction', async () => {
    // First start: 0 of the jitter span; then a draw of 0 (−10 %), 1 (+10 %), 0.5 (±0) per run.
    const schedule = new Schedule(settings(), { clock, random: sequence(0, 0, 0.999999, 0.5) }, ALL);
    const h = harness(schedule, 1000);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(3 * 60 * MIN + 5 * MIN);
    await stopNow(h.scheduler);
    const starts = h.runs.map((r) => r.at - T0);
    expect(starts[0]).toBe(0);
    expect(starts[1]).toBe(54 * MIN); // 60 min − 10 %
    expect(starts[2]! - starts[1]!).toBeCloseTo(66 * MIN, -2); // + 10 %
    expect(starts[3]! - starts[2]!).toBe(60 * MIN);
    for (const r of h.runs) expect(r.ids.sort()).toEqual(ALL.map((t) => t.id).sort());
  });

  it('delays the first run by a random part of the jitter span', async () => {
    const schedule = new Schedule(settings(), { clock, random: sequence(0.5) }, ALL);
    const h = harness(schedule);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(3 * MIN - 1);
    expect(h.runs).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.runs).toHaveLength(1);
    await stopNow(h.scheduler);
  });

  it('keeps intervals apart by jitter over many runs, never outside the bounds', async () => {
    const random = mulberry32(2019);
    const schedule = new Schedule(settings({ intervalMs: 10 * MIN, jitterFraction: 0.2 }), { clock, random }, ALL);
    const h = harness(schedule, 500);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(24 * 60 * MIN);
    await stopNow(h.scheduler);
    const gaps = h.runs.slice(1).map((r, i) => r.at - h.runs[i]!.at);
    expect(gaps.length).toBeGreaterThan(100);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(8 * MIN);
      expect(g).toBeLessThanOrEqual(12 * MIN);
    }
    expect(new Set(gaps).size).toBeGreaterThan(50);
  });
});

describe('overruns', () => {
  it('a run longer than the interval delays the next one instead of piling up', async () => {
    const schedule = new Schedule(settings({ intervalMs: 10 * MIN, jitterFraction: 0 }), { clock, random: () => 0 }, ALL);
    // The first run takes 25 minutes (2.5 intervals), the others 1 minute.
    const durations = [25 * MIN];
    const h = harness(schedule, () => durations.shift() ?? MIN);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(60 * MIN);
    await stopNow(h.scheduler);
    const starts = h.runs.map((r) => (r.at - T0) / MIN);
    // Ends at 25: the next is one interval after the end (35), not at 25 with two more queued.
    expect(starts.slice(0, 4)).toEqual([0, 35, 45, 55]);
    expect(h.peak()).toBe(1);
  });

  it('a target that falls due while a run is in flight is measured right after it, once', async () => {
    const schedule = new Schedule(settings({ intervalMs: 10 * MIN, jitterFraction: 0 }), { clock, random: () => 0 }, [YOUTUBE, CANARY_D]);
    const durations = [MIN, 30 * MIN];
    const h = harness(schedule, () => durations.shift() ?? MIN);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(5 * MIN);
    // Telegram joins the next regular run (10 min), which takes 30 min.
    schedule.setTargets([YOUTUBE, CANARY_D, TELEGRAM]);
    h.scheduler.wake();
    await vi.advanceTimersByTimeAsync(45 * MIN);
    await stopNow(h.scheduler);
    expect(h.runs.map((r) => (r.at - T0) / MIN)).toEqual([0, 10, 50]);
    expect(h.runs[1]!.ids).toContain('telegram');
    expect(h.peak()).toBe(1);
  });

  it('a run past its deadline is aborted and the schedule goes on', async () => {
    const schedule = new Schedule(settings({ intervalMs: 10 * MIN, jitterFraction: 0 }), { clock, random: () => 0 }, ALL);
    const durations = [60 * MIN];
    const h = harness(schedule, () => durations.shift() ?? MIN, { runDeadlineMs: 8 * MIN });
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(30 * MIN);
    await stopNow(h.scheduler);
    expect(h.errors.filter((e) => e instanceof RunDeadlineError)).toHaveLength(1);
    expect(h.errors[0]).toBeInstanceOf(RunDeadlineError);
    // Aborted at 8 minutes: the next run keeps its time (10), as after any run that ended in time.
    expect(h.runs.map((r) => (r.at - T0) / MIN)).toEqual([0, 10, 20, 30]);
  });
});

describe('canaries', () => {
  it('ride along with every run but keep their own schedule', async () => {
    const schedule = new Schedule(settings({ intervalMs: 60 * MIN, jitterFraction: 0 }), { clock, random: () => 0 }, ALL);
    const h = harness(schedule);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(MIN);
    schedule.applySurge({ targets: ['telegram'], interval_minutes: 15, until: new Date(T0 + 2 * 60 * MIN).toISOString() });
    h.scheduler.wake();
    await vi.advanceTimersByTimeAsync(60 * MIN);
    await stopNow(h.scheduler);
    const [first, ...surge] = h.runs;
    expect(first!.ids.sort()).toEqual(['canary-domestic', 'canary-international', 'telegram', 'youtube']);
    // Surge runs at 1, 16, 31, 46 minutes: telegram and the canaries; the regular run at 60 has everything.
    const surgeRuns = surge.filter((r) => r.at - T0 < 60 * MIN);
    expect(surgeRuns.map((r) => (r.at - T0) / MIN)).toEqual([1, 16, 31, 46]);
    for (const r of surgeRuns) {
      expect(r.ids.sort()).toEqual(['canary-domestic', 'canary-international', 'telegram']);
      expect(r.planned.due).toEqual(['telegram']);
    }
    const regular = h.runs.find((r) => r.at - T0 === 60 * MIN);
    expect(regular?.ids.sort()).toEqual(['canary-domestic', 'canary-international', 'youtube']);
  });
});

describe('surges', () => {
  const until = (ms: number) => new Date(T0 + ms).toISOString();

  it('raise the interval to surge_min_interval_minutes and end at the collector\'s time', async () => {
    const schedule = new Schedule(settings({ jitterFraction: 0 }), { clock, random: () => 0 }, ALL);
    const h = harness(schedule);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(1);
    // Asked while youtube's first run is in flight: the surge takes over from its end.
    const surge = schedule.applySurge({ targets: ['youtube'], interval_minutes: 1, until: until(45 * MIN) });
    expect(surge?.intervalMs).toBe(10 * MIN);
    h.scheduler.wake();
    await vi.advanceTimersByTimeAsync(3 * 60 * MIN);
    await stopNow(h.scheduler);
    const youtube = h.runs.filter((r) => r.planned.due.includes('youtube')).map((r) => Math.round((r.at - T0) / MIN));
    // Every 10 minutes while the next run falls before 45, then hourly from the last surge run.
    expect(youtube).toEqual([0, 10, 20, 30, 40, 100, 160]);
  });

  it('are followed for at most surge_max_hours per episode, even when the collector keeps asking', async () => {
    const schedule = new Schedule(settings({ jitterFraction: 0, surgeMaxMs: 2 * 60 * MIN }), { clock, random: () => 0 }, ALL);
    const h = harness(schedule);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(1);
    const hint = { targets: ['telegram'], interval_minutes: 10, until: until(24 * 60 * MIN) };
    expect(schedule.applySurge(hint)?.until).toBe(T0 + 1 + 2 * 60 * MIN);
    h.scheduler.wake();
    for (let i = 0; i < 30; i++) {
      await vi.advanceTimersByTimeAsync(10 * MIN);
      schedule.applySurge(hint); // the collector repeats the hint at every target fetch
    }
    await stopNow(h.scheduler);
    const telegram = h.runs.filter((r) => r.planned.due.includes('telegram')).map((r) => (r.at - T0) / MIN);
    const during = telegram.filter((t) => t > 0 && t <= 120);
    const after = telegram.filter((t) => t > 121);
    expect(during.length).toBe(12);
    // Back to hourly after the cap.
    for (let i = 1; i < after.length; i++) expect(after[i]! - after[i - 1]!).toBeCloseTo(60, 0);
    expect(schedule.surge()).toBeNull();
    // A new episode (after the collector stopped asking) is followed again.
    schedule.applySurge(null);
    expect(schedule.applySurge(hint)).not.toBeNull();
  });

  it('are ignored when surge_max_hours is 0, for unknown targets, and when already over', () => {
    const now = T0;
    const base = new Schedule(settings(), { clock, random: () => 0 }, ALL);
    expect(base.applySurge({ targets: ['no-such-target'], interval_minutes: 10, until: until(MIN) })).toBeNull();
    expect(base.applySurge({ targets: ['youtube'], interval_minutes: 10, until: new Date(now - 1).toISOString() })).toBeNull();
    expect(base.applySurge({ targets: ['youtube'], interval_minutes: 10, until: 'tomorrow' })).toBeNull();
    expect(base.applySurge({ targets: ['youtube'], interval_minutes: 0, until: until(MIN) })).toBeNull();
    const off = new Schedule(settings({ surgeMaxMs: 0 }), { clock, random: () => 0 }, ALL);
    expect(off.applySurge({ targets: ['youtube'], interval_minutes: 10, until: until(60 * MIN) })).toBeNull();
    const mixed = base.applySurge({ targets: ['youtube', 'no-such-target', 'youtube'], interval_minutes: 10, until: until(60 * MIN) });
    expect(mixed?.targets).toEqual(['youtube']);
  });

  it('never measure more slowly than the regular interval', () => {
    const schedule = new Schedule(settings({ intervalMs: 30 * MIN }), { clock, random: () => 0 }, ALL);
    schedule.applySurge({ targets: ['youtube'], interval_minutes: 120, until: until(5 * 60 * MIN) });
    expect(schedule.intervalOf('youtube')).toBe(30 * MIN);
  });
});

describe('target lists', () => {
  it('a new list keeps the times of the targets it keeps and drops the others', async () => {
    const schedule = new Schedule(settings({ jitterFraction: 0 }), { clock, random: () => 0 }, ALL);
    const h = harness(schedule);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(20 * MIN);
    schedule.setTargets([YOUTUBE, CANARY_D, CANARY_I, target('signal', 'messenger')]);
    h.scheduler.wake();
    await vi.advanceTimersByTimeAsync(45 * MIN);
    await stopNow(h.scheduler);
    expect(h.runs.map((r) => (r.at - T0) / MIN)).toEqual([0, 60]);
    expect(h.runs[1]!.ids.sort()).toEqual(['canary-domestic', 'canary-international', 'signal', 'youtube']);
  });
});

describe('the wall clock', () => {
  it('set back by a day does not stall the schedule beyond one interval', async () => {
    const schedule = new Schedule(settings({ jitterFraction: 0 }), { clock, random: () => 0 }, ALL);
    const h = harness(schedule);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(MIN);
    vi.setSystemTime(Date.now() - 24 * 60 * MIN);
    await vi.advanceTimersByTimeAsync(61 * MIN);
    await stopNow(h.scheduler);
    expect(h.runs).toHaveLength(2);
  });

  it('jumping forward (a laptop resumed after hours) measures within a minute', async () => {
    const schedule = new Schedule(settings({ jitterFraction: 0 }), { clock, random: () => 0 }, ALL);
    const h = harness(schedule);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(MIN);
    // The monotonic timers did not run during the suspend; only the date moved.
    vi.setSystemTime(Date.now() + 5 * 60 * MIN);
    await vi.advanceTimersByTimeAsync(MIN);
    await stopNow(h.scheduler);
    expect(h.runs).toHaveLength(2);
  });
});

describe('stopping', () => {
  it('starts nothing new and lets a run that ends within the grace finish', async () => {
    const schedule = new Schedule(settings(), { clock, random: () => 0 }, ALL);
    const h = harness(schedule, 3000);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(1000);
    const stopped = h.scheduler.stop(10_000);
    await vi.advanceTimersByTimeAsync(2000);
    await stopped;
    expect(h.errors).toEqual([]);
    await vi.advanceTimersByTimeAsync(3 * 60 * MIN);
    expect(h.runs).toHaveLength(1);
  });

  it('aborts a run that outlasts the grace, within the grace', async () => {
    const schedule = new Schedule(settings(), { clock, random: () => 0 }, ALL);
    const h = harness(schedule, 20 * MIN);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(1000);
    let settled = false;
    const stopped = h.scheduler.stop(10_000).then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopped;
    expect(settled).toBe(true);
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toBeInstanceOf(DaemonStoppingError);
    expect(schedule.running()).toBe(false);
  });
});

describe('halting (the collector revoked the probe)', () => {
  it('starts no run again, lets the run in flight finish, ignores wake() and start(); stop() still ends it', async () => {
    const schedule = new Schedule(settings(), { clock, random: () => 0 }, ALL);
    const h = harness(schedule, 3000);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.runs).toHaveLength(1);
    h.scheduler.halt();
    expect(h.scheduler.halted).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    // The run in flight was not aborted; nothing started after it, in two days.
    expect(h.errors).toEqual([]);
    expect(h.scheduler.current()).toBeNull();
    h.scheduler.wake();
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(48 * 60 * MIN);
    expect(h.runs).toHaveLength(1);
    await stopNow(h.scheduler);
  });
});
