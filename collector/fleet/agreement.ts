// Probes whose verdicts disagree with every other probe on their network: flagged for the operator (an enrolled fake reporting "all fine", or a broken line).
import type { ProbeCell } from '../storage/measurement-index.js';

export type { ProbeCell };
export interface AgreementOptions {
  /** Flagged only after standing alone in at least this many (target, hour) cells. */
  min_dissent: number;
  /** ...and in at least this share of the cells where the others all saw a blocking, or of those where they all saw none. */
  flag_share: number;
}

export const DEFAULT_AGREEMENT: AgreementOptions = { min_dissent: 6, flag_share: 0.5 };

export interface ProbeAgreement {
  probe: string;
  asn: number;
  /** Cells (target × hour) in which two or more other probes of its network measured and all saw a blocking... */
  others_blocked: number;
  /** ...of which it saw none (a fake reporting "all fine" misses them). */
  missed: number;
  /** Cells in which two or more others measured and none saw a blocking... */
  others_ok: number;
  /** ...of which it saw one (invented, or its line differs). */
  invented: number;
  flagged: boolean;
}

/**
 * For each probe and network: in how many (target, hour) cells it stood alone against the
 * others. A probe is blocked in a cell when at least half of its judged measurements there are
 * blocked. A cell compares the probe only when two or more other probes measured there and all
 * of them agree (with one other probe, which of the two is wrong cannot be told). Flagged: it
 * stood alone in at least `min_dissent` cells, and in at least `flag_share` of the cells where
 * the others saw a blocking, or of those where they saw none.
 */
export function agreementOf(cells: readonly ProbeCell[], options: AgreementOptions = DEFAULT_AGREEMENT): ProbeAgreement[] {
  const byCell = new Map<string, Array<{ probe: string; blocked: boolean }>>();
  for (const c of cells) {
    if (c.judged <= 0) continue;
    const key = `${c.asn}|${c.hour}|${c.target}`;
    let list = byCell.get(key);
    if (list === undefined) byCell.set(key, (list = []));
    list.push({ probe: c.probe, blocked: c.blocked * 2 >= c.judged });
  }
  const tally = new Map<string, ProbeAgreement>();
  for (const [key, list] of byCell) {
    if (list.length < 3) continue;
    const asn = Number(key.slice(0, key.indexOf('|')));
    const blocked = list.filter((p) => p.blocked).length;
    for (const p of list) {
      // The others: every probe of the cell but this one; compared only when they agree among themselves.
      const othersBlocked = blocked - (p.blocked ? 1 : 0);
      const others = list.length - 1;
      if (othersBlocked !== 0 && othersBlocked !== others) continue;
      const id = `${p.probe}|${asn}`;
      let t = tally.get(id);
      if (t === undefined) tally.set(id, (t = { probe: p.probe, asn, others_blocked: 0, missed: 0, others_ok: 0, invented: 0, flagged: false }));
      if (othersBlocked === others) {
        t.others_blocked++;
        if (!p.blocked) t.missed++;
      } else {
        t.others_ok++;
        if (p.blocked) t.invented++;
      }
    }
  }
  const out = [...tally.values()];
  const { min_dissent: least, flag_share: share } = options;
  for (const t of out) {
    t.flagged = t.missed + t.invented >= least && ((t.missed > 0 && t.missed >= share * t.others_blocked) || (t.invented > 0 && t.invented >= share * t.others_ok));
  }
  return out.sort((a, b) => (a.probe < b.probe ? -1 : a.probe > b.probe ? 1 : a.asn - b.asn));
}
