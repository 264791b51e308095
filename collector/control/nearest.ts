// Which control measurement judges a probe's measurement: the one nearest in time for the same target, within a window.
import type { Evidence } from '../../contract/evidence.js';
import type { Decision } from '../../contract/verdict.js';
import { InvalidArgumentError } from '../../common/errors.js';

/** A control measurement as the collector keeps it for re-classification. */
export interface ControlRef {
  /** The control measurement's id (kept beside the collector's verdict). */
  id: string;
  target: string;
  /** When it was measured (ms since the epoch). */
  at: number;
  evidence: Evidence;
  /** The control's own verdict: an offline control (the collector's own line down) judges nothing. */
  verdict: Decision;
  /** Where it was measured from: the collector's control (probe id collector-control) or a control probe, and that network. */
  vantage: ControlVantage;
}

export interface ControlVantage {
  probe_id: string;
  asn: number | null;
  cc: string | null;
}

/**
 * Controls per target, each list in time order, so that the nearest is found by bisection. Adding is
 * idempotent by id; `prune` drops what no measurement within the window can still need.
 */
export class ControlIndex {
  readonly #byTarget = new Map<string, ControlRef[]>();
  readonly #ids = new Set<string>();

  constructor(readonly windowMs: number) {
    if (!Number.isFinite(windowMs) || windowMs <= 0) throw new InvalidArgumentError(`the control window must be a positive number of ms: ${windowMs}`);
  }

  get size(): number {
    return this.#ids.size;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  /** Each vantage the kept controls come from: how many it measured and when it last did. */
  vantages(): Array<ControlVantage & { controls: number; last_at: number }> {
    const by = new Map<string, ControlVantage & { controls: number; last_at: number }>();
    for (const list of this.#byTarget.values()) {
      for (const c of list) {
        const v = by.get(c.vantage.probe_id);
        if (v === undefined) by.set(c.vantage.probe_id, { ...c.vantage, controls: 1, last_at: c.at });
        else {
          v.controls++;
          if (c.at >= v.last_at) Object.assign(v, c.vantage, { last_at: c.at });
        }
      }
    }
    return [...by.values()].sort((a, b) => a.probe_id.localeCompare(b.probe_id));
  }

  add(c: ControlRef): void {
    if (this.#ids.has(c.id)) return;
    this.#ids.add(c.id);
    const list = this.#byTarget.get(c.target) ?? [];
    const at = upperBound(list, c.at);
    list.splice(at, 0, c);
    this.#byTarget.set(c.target, list);
  }

  /**
   * The usable control nearest to `at` for `target` (not offline, at most `windowMs` away), the earlier
   * one on a tie; null when there is none.
   */
  nearest(target: string, at: number): ControlRef | null {
    const list = this.#byTarget.get(target);
    if (list === undefined) return null;
    const i = upperBound(list, at);
    let best: ControlRef | null = null;
    // Walk out from the insertion point both ways, skipping offline controls, until past the window.
    for (let lo = i - 1, hi = i; lo >= 0 || hi < list.length; ) {
      const before = lo >= 0 ? list[lo]! : null;
      const after = hi < list.length ? list[hi]! : null;
      const dBefore = before === null ? Infinity : at - before.at;
      const dAfter = after === null ? Infinity : after.at - at;
      if (Math.min(dBefore, dAfter) > this.windowMs) break;
      const pick = dBefore <= dAfter ? before! : after!;
      if (pick === before) lo--;
      else hi++;
      if (pick.verdict.verdict === 'offline') continue;
      best = pick;
      break;
    }
    return best;
  }

  /** The latest control of each target (for status), offline ones included. */
  latest(): ControlRef[] {
    return [...this.#byTarget.values()].map((l) => l[l.length - 1]!).filter((c) => c !== undefined);
  }

  /** The latest control of each target that is not offline (what probes classify with). */
  latestUsable(): ControlRef[] {
    const out: ControlRef[] = [];
    for (const list of this.#byTarget.values()) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i]!.verdict.verdict === 'offline') continue;
        out.push(list[i]!);
        break;
      }
    }
    return out;
  }

  /** Forget controls older than `before` (ms); the latest of each target is kept whatever its age. */
  prune(before: number): void {
    for (const [target, list] of this.#byTarget) {
      const keepFrom = Math.min(lowerBound(list, before), list.length - 1);
      for (const c of list.slice(0, keepFrom)) this.#ids.delete(c.id);
      if (keepFrom > 0) this.#byTarget.set(target, list.slice(keepFrom));
    }
  }
}

/** The first index whose time is greater than `at`. */
function upperBound(list: readonly ControlRef[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.at <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose time is at least `at`. */
function lowerBound(list: readonly ControlRef[], at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.at < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
