// A probe standing alone against the others of its network: the table of cells → flag, for fakes that report "all fine" and fakes that invent blockings.
import { describe, expect, it } from 'vitest';
import { agreementOf, type ProbeCell } from '../collector/fleet/agreement.js';

/** `hours` cells of target t on AS9198 for each probe: true = blocked in that hour. */
function cells(byProbe: Record<string, boolean[]>, target = 'youtube', asn = 9198): ProbeCell[] {
  return Object.entries(byProbe).flatMap(([probe, hours]) => hours.map((blocked, hour) => ({ probe, asn, target, hour, judged: 2, blocked: blocked ? 2 : 0 })));
}
const B = (n: number) => Array<boolean>(n).fill(true);
const O = (n: number) => Array<boolean>(n).fill(false);

describe('agreement of a network’s probes', () => {
  const cases: Array<{ name: string; cells: ProbeCell[]; flagged: string[]; expect?: Record<string, Partial<ReturnType<typeof agreementOf>[number]>> }> = [
    {
      name: 'a fake reporting all fine through a 6-hour block three probes saw is flagged',
      cells: cells({ a: [...O(4), ...B(6), ...O(4)], b: [...O(4), ...B(6), ...O(4)], c: [...O(4), ...B(6), ...O(4)], fake: O(14) }),
      flagged: ['fake'],
      expect: { fake: { others_blocked: 6, missed: 6, others_ok: 8, invented: 0 }, a: { missed: 0, invented: 0 } },
    },
    {
      name: 'a fake inventing a blocking most of the time, the others seeing none, is flagged',
      cells: cells({ a: O(12), b: O(12), fake: [...O(2), ...B(10)] }),
      flagged: ['fake'],
    },
    {
      name: 'a short disagreement (fewer than 6 cells) flags nobody',
      cells: cells({ a: [...O(4), ...B(5)], b: [...O(4), ...B(5)], c: [...O(4), ...B(5)], d: O(9) }),
      flagged: [],
    },
    {
      name: 'two probes that disagree: neither can be told wrong',
      cells: cells({ a: B(12), b: O(12) }),
      flagged: [],
      expect: {},
    },
    {
      name: 'others that disagree among themselves do not judge a probe',
      cells: cells({ a: B(12), b: O(12), c: O(12) }),
      // c is compared only where a and b agree: never; b likewise; a stands alone against b and c: flagged.
      flagged: ['a'],
    },
    {
      name: 'a probe on another network is not compared with this one',
      cells: [...cells({ a: B(8), b: B(8), c: B(8) }), ...cells({ other: O(8) }, 'youtube', 21299)],
      flagged: [],
    },
    {
      name: 'a probe that disagrees in a few target-hours among many keeps its standing',
      cells: [...cells({ a: O(40), b: O(40), c: [...O(34), ...B(6)] }), ...cells({ a: O(40), b: O(40), c: O(40) }, 'facebook')],
      flagged: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = agreementOf(c.cells);
      expect(result.filter((r) => r.flagged).map((r) => r.probe)).toEqual(c.flagged);
      for (const [probe, want] of Object.entries(c.expect ?? {})) expect(result.find((r) => r.probe === probe)).toMatchObject(want);
      if (c.expect !== undefined && Object.keys(c.expect).length === 0) expect(result).toEqual([]);
    });
  }

  it('a probe is blocked in a cell when half or more of its judged measurements there are; unjudged cells are skipped', () => {
    const base = (probe: string, blocked: number, judged: number): ProbeCell => ({ probe, asn: 1, target: 't', hour: 0, judged, blocked });
    const r = agreementOf([base('a', 1, 2), base('b', 2, 2), base('c', 1, 3), base('d', 0, 0)], { min_dissent: 1, flag_share: 0.5 });
    expect(r.find((x) => x.probe === 'c')).toMatchObject({ others_blocked: 1, missed: 1, flagged: true });
    expect(r.find((x) => x.probe === 'd')).toBeUndefined();
  });
});
