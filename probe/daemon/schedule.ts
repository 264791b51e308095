// The measuring schedule: a next-due time per target, jittered intervals, collector surges within the volunteer's limits.
//
// Rules:
// * Every target is measured every interval; each run's next time is drawn once for the run, uniform
//   in ±jitter_fraction·interval, so the targets measured together stay together and probes that
//   started together drift apart. The first run comes after a random part of the jitter span.
// * A run that overruns its interval delays the next: the next run is one (jittered) interval after
//   the end of the late one, never an immediate catch-up, and missed runs are never queued.
// * One run at a time (the Scheduler): a target is never measured by two runs at once, and a target
//   that falls due while a run is in flight is measured right after it.
// * Every run carries the canaries, even when they are not due, so that `offline` can be judged;
//   carried canaries keep their own schedule.
// * A surge (from the collector) measures the named targets every M minutes until a time. M is
//   raised to surge_min_interval_minutes; a surge is followed for at most surge_max_hours per
//   episode (an episode lasts while the collector keeps asking for a surge; 0 hours: never).
//   Targets the probe does not know are ignored.
import type { ScheduleSettings } from '../config/daemon-settings.js';
import type { Clock } from '../../common/clock.js';
import type { Target } from '../../contract/target.js';
import type { SurgeAnswer } from '../../contract/wire.js';

/** The config's schedule section in the units the schedule works in (milliseconds). */
export interface ScheduleTiming {
  intervalMs: number;
  jitterFraction: number;
  surgeMinIntervalMs: number;
  /** Longest a surge episode is followed; 0 ignores surges. */
  surgeMaxMs: number;
}

export function scheduleTimingOf(config: ScheduleSettings): ScheduleTiming {
  return {
    intervalMs: config.interval_minutes * 60_000,
    jitterFraction: config.jitter_fraction,
    surgeMinIntervalMs: config.surge_min_interval_minutes * 60_000,
    surgeMaxMs: config.surge_max_hours * 3_600_000,
  };
}

export interface ScheduleDeps {
  clock: Clock;
  /** Uniform in [0, 1). */
  random: () => number;
}

/** A surge as followed: the targets known here, the clamped interval and end. */
export interface ActiveSurge {
  targets: string[];
  intervalMs: number;
  /** When the episode began (epoch ms). */
  since: number;
  /** When it ends here: the collector's end, or since + surge_max_hours if sooner. */
  until: number;
  /** What the collector asked for. */
  requested: SurgeAnswer;
}

/** One run handed out by takeDue. */
export interface PlannedRun {
  seq: number;
  startedAt: number;
  /** Every target to measure: the due ones, then the carried canaries. */
  targets: Target[];
  /** Ids of the targets that were due (their next time is set when the run finishes). */
  due: string[];
}

export interface ScheduleSnapshot {
  interval_minutes: number;
  jitter_fraction: number;
  next_run_at: string | null;
  running: boolean;
  targets: number;
  surge: { targets: string[]; interval_minutes: number; since: string; until: string } | null;
}

interface Entry {
  target: Target;
  dueAt: number;
  running: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class Schedule {
  readonly timing: ScheduleTiming;
  readonly #deps: ScheduleDeps;
  #entries = new Map<string, Entry>();
  #surge: ActiveSurge | null = null;
  /** Start of the current surge episode (while the collector keeps asking), even once our cap ended it. */
  #episodeSince: number | null = null;
  #seq = 0;

  constructor(timing: ScheduleTiming, deps: ScheduleDeps, targets: readonly Target[] = []) {
    this.timing = timing;
    this.#deps = deps;
    this.setTargets(targets);
  }

  /** A jitter factor for one run: uniform in [-jitter_fraction, +jitter_fraction]. */
  #jitter(): number {
    return (this.#deps.random() * 2 - 1) * this.timing.jitterFraction;
  }

  /**
   * Replace the target list. Targets kept keep their next time; new ones join the next regular run
   * (or, on the first list, start after a random part of the jitter span); removed ones are dropped.
   */
  setTargets(targets: readonly Target[]): void {
    const now = this.#deps.clock.now();
    const previous = this.#entries;
    let anchor: number | null = null;
    for (const e of previous.values()) {
      if (!this.#inSurge(e.target.id, now) && (anchor === null || e.dueAt < anchor)) anchor = e.dueAt;
    }
    anchor ??= now + this.#deps.random() * this.timing.jitterFraction * this.timing.intervalMs;
    const next = new Map<string, Entry>();
    for (const target of targets) {
      const old = previous.get(target.id);
      next.set(target.id, old ? { ...old, target } : { target, dueAt: anchor, running: false });
    }
    this.#entries = next;
    if (this.#surge) {
      const kept = this.#surge.targets.filter((id) => next.has(id));
      this.#surge = kept.length > 0 ? { ...this.#surge, targets: kept } : null;
    }
  }

  targets(): Target[] {
    return [...this.#entries.values()].map((e) => e.target);
  }

  #inSurge(id: string, at: number): boolean {
    const s = this.#surge;
    return s !== null && at < s.until && s.targets.includes(id);
  }

  /** The interval that applies to a target at time `at`. */
  intervalOf(id: string, at: number = this.#deps.clock.now()): number {
    return this.#inSurge(id, at) ? Math.min(this.#surge!.intervalMs, this.timing.intervalMs) : this.timing.intervalMs;
  }

  /**
   * Follow (or stop following) the collector's surge hint; returns the surge now followed. The same
   * hint sent again changes nothing; a changed one keeps the episode's start (and so its cap).
   */
  applySurge(hint: SurgeAnswer | null): ActiveSurge | null {
    const now = this.#deps.clock.now();
    if (hint === null || this.timing.surgeMaxMs <= 0) {
      this.#surge = null;
      this.#episodeSince = null;
      return null;
    }
    this.#episodeSince ??= now;
    const since = this.#episodeSince;
    const asked = Date.parse(hint.until);
    const minutes = hint.interval_minutes;
    const targets = [...new Set(hint.targets)].filter((id) => this.#entries.has(id));
    const until = Math.min(Number.isFinite(asked) ? asked : now, since + this.timing.surgeMaxMs);
    if (until <= now || targets.length === 0 || !(Number.isFinite(minutes) && minutes > 0)) {
      this.#surge = null;
      return null;
    }
    const intervalMs = Math.max(minutes * 60_000, this.timing.surgeMinIntervalMs);
    const previous = this.#surge;
    const surge: ActiveSurge = { targets, intervalMs, since, until, requested: hint };
    this.#surge = surge;
    if (
      previous !== null &&
      previous.intervalMs === intervalMs &&
      previous.until === until &&
      previous.targets.length === targets.length &&
      previous.targets.every((id) => targets.includes(id))
    ) {
      return surge;
    }
    // A new or changed surge: its targets are measured soon, not at their old regular time.
    const soon = now + this.#deps.random() * this.timing.jitterFraction * Math.min(intervalMs, this.timing.intervalMs);
    for (const id of targets) {
      const e = this.#entries.get(id);
      if (e && !e.running && e.dueAt > soon) e.dueAt = soon;
    }
    return surge;
  }

  surge(): ActiveSurge | null {
    const s = this.#surge;
    return s !== null && this.#deps.clock.now() < s.until ? s : null;
  }

  /** A wall clock set back (or a laptop resumed) never leaves a target further away than one interval. */
  #clamp(now: number): void {
    const maxAhead = this.timing.intervalMs * (1 + this.timing.jitterFraction);
    for (const e of this.#entries.values()) if (e.dueAt > now + maxAhead) e.dueAt = now + maxAhead;
  }

  /** When the next target falls due (epoch ms), or null with no target or while a run is in flight. */
  nextDueAt(): number | null {
    const now = this.#deps.clock.now();
    this.#clamp(now);
    let next: number | null = null;
    for (const e of this.#entries.values()) {
      if (e.running) return null;
      if (next === null || e.dueAt < next) next = e.dueAt;
    }
    return next;
  }

  /** Whether a run is in flight. */
  running(): boolean {
    for (const e of this.#entries.values()) if (e.running) return true;
    return false;
  }

  /** The targets due now (plus the canaries), marked running; null when nothing is due or a run is in flight. */
  takeDue(): PlannedRun | null {
    const now = this.#deps.clock.now();
    this.#clamp(now);
    if (this.running()) return null;
    const due = [...this.#entries.values()].filter((e) => e.dueAt <= now);
    if (due.length === 0) return null;
    const carried = [...this.#entries.values()].filter((e) => e.dueAt > now && e.target.category === 'canary');
    for (const e of [...due, ...carried]) e.running = true;
    return {
      seq: ++this.#seq,
      startedAt: now,
      targets: [...due, ...carried].map((e) => e.target),
      due: due.map((e) => e.target.id),
    };
  }

  /** A run ended (done, failed or aborted): its due targets get their next time, drawn once for the run. */
  finish(run: PlannedRun): void {
    const now = this.#deps.clock.now();
    const jitter = this.#jitter();
    for (const target of run.targets) {
      const e = this.#entries.get(target.id);
      if (e === undefined) continue;
      e.running = false;
      if (!run.due.includes(target.id)) continue;
      e.dueAt = this.#nextAfter(target.id, run.startedAt, now, jitter);
    }
  }

  /**
   * The next time of a target whose run started at `startedAt` and ended at `now`: one interval
   * (jittered) after the start, or after the end when the run overran. A surge interval applies
   * while its next run still falls within the surge; past its end the regular interval does.
   */
  #nextAfter(id: string, startedAt: number, now: number, jitter: number): number {
    const after = (interval: number) => {
      const step = interval * (1 + jitter);
      return startedAt + step > now ? startedAt + step : now + step;
    };
    const s = this.#surge;
    if (s !== null && s.targets.includes(id) && s.intervalMs < this.timing.intervalMs) {
      const next = after(s.intervalMs);
      if (next < s.until) return next;
    }
    return after(this.timing.intervalMs);
  }

  snapshot(): ScheduleSnapshot {
    const next = this.nextDueAt();
    const s = this.surge();
    return {
      interval_minutes: this.timing.intervalMs / 60_000,
      jitter_fraction: this.timing.jitterFraction,
      next_run_at: next === null ? null : iso(next),
      running: this.running(),
      targets: this.#entries.size,
      surge: s === null ? null : { targets: s.targets, interval_minutes: s.intervalMs / 60_000, since: iso(s.since), until: iso(s.until) },
    };
  }
}
