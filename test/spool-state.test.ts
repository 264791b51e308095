// The spool's drop counters: counting, the unreported part, confirmation, parsing of the state file.
import { describe, expect, it } from 'vitest';
import { emptyState, MAX_DROP_EVENTS, parseState, serializeState, unreportedOverflow, withDrop, withReported } from '../probe/spool/state.js';

const t = (minute: number) => new Date(Date.UTC(2024, 4, 9, 7, minute)).toISOString();

describe('spool state', () => {
  it('counts drops and keeps the first and last time', () => {
    let s = emptyState();
    expect(unreportedOverflow(s)).toBeNull();
    s = withDrop(s, 3, t(0));
    s = withDrop(s, 0, t(1)); // nothing dropped: no event
    s = withDrop(s, 2, t(5));
    expect(s).toMatchObject({ dropped: 5, first_dropped_at: t(0), last_dropped_at: t(5) });
    expect(unreportedOverflow(s)).toEqual({ dropped: 5, firstDroppedAt: t(0), lastDroppedAt: t(5) });
  });

  it('confirming a report removes exactly the reported drops, oldest first, and keeps later ones', () => {
    let s = withDrop(withDrop(emptyState(), 3, t(0)), 2, t(5));
    const taken = unreportedOverflow(s)!;
    s = withDrop(s, 4, t(9)); // dropped while the report was on its way
    s = withReported(s, taken.dropped);
    expect(unreportedOverflow(s)).toEqual({ dropped: 4, firstDroppedAt: t(9), lastDroppedAt: t(9) });
    expect(s.dropped).toBe(9);
    s = withReported(s, 1);
    expect(unreportedOverflow(s)).toEqual({ dropped: 3, firstDroppedAt: t(9), lastDroppedAt: t(9) });
    s = withReported(s, 10);
    expect(unreportedOverflow(s)).toBeNull();
    expect(s).toMatchObject({ dropped: 9, first_dropped_at: t(0), last_dropped_at: t(9) });
  });

  it('bounds the event list by merging the oldest events, losing no count', () => {
    let s = emptyState();
    for (let i = 0; i < MAX_DROP_EVENTS * 3; i++) s = withDrop(s, 1, t(i));
    expect(s.unreported.length).toBeLessThanOrEqual(MAX_DROP_EVENTS);
    expect(unreportedOverflow(s)).toEqual({ dropped: MAX_DROP_EVENTS * 3, firstDroppedAt: t(0), lastDroppedAt: t(MAX_DROP_EVENTS * 3 - 1) });
  });

  it('never merges a drop the report in flight names with one it does not: nothing is under- or double-counted', () => {
    for (const before of [1, 2, 5]) {
      let s = emptyState();
      for (let i = 0; i < before; i++) s = withDrop(s, 2, t(i));
      const taken = unreportedOverflow(s)!;
      // Many drops while the report is on its way: the list overflows and merges.
      for (let i = 0; i < MAX_DROP_EVENTS * 2; i++) s = withDrop(s, 1, t(100 + i), taken.dropped);
      expect(s.unreported.length).toBeLessThanOrEqual(MAX_DROP_EVENTS);
      s = withReported(s, taken.dropped);
      const next = unreportedOverflow(s)!;
      // The collector keeps one report per first-drop time: the next one must start elsewhere.
      expect(next.firstDroppedAt, `${before} event(s) in flight`).not.toBe(taken.firstDroppedAt);
      expect(taken.dropped + next.dropped).toBe(before * 2 + MAX_DROP_EVENTS * 2);
    }
  });

  it('gives every drop its own time, later than the one before', () => {
    let s = withDrop(emptyState(), 1, t(5));
    s = withDrop(s, 1, t(5));
    s = withDrop(s, 1, t(4));
    expect(s.unreported.map((e) => e.at)).toEqual([t(5), new Date(Date.parse(t(5)) + 1).toISOString(), new Date(Date.parse(t(5)) + 2).toISOString()]);
    const reported = withReported(s, 3);
    expect(withDrop(reported, 1, t(5)).unreported[0]!.at).toBe(new Date(Date.parse(t(5)) + 3).toISOString());
  });

  it('round-trips through the file and rejects what it cannot trust', () => {
    const s = { ...withDrop(emptyState(), 7, t(3)), dropping: [4] };
    expect(parseState(serializeState(s).toString('utf8'))).toEqual(s);
    expect(parseState('{"version":1,')).toMatchObject({ problem: expect.stringMatching(/^not JSON/) });
    expect(parseState('[]')).toMatchObject({ problem: expect.stringMatching(/version/) });
    expect(parseState(JSON.stringify({ version: 2 }))).toMatchObject({ problem: 'unsupported version 2' });
    const good = JSON.parse(serializeState(s).toString('utf8')) as Record<string, unknown>;
    expect(parseState(JSON.stringify({ ...good, dropped: -1 }))).toMatchObject({ problem: 'dropped: not a count' });
    expect(parseState(JSON.stringify({ ...good, last_dropped_at: 'yesterday' }))).toMatchObject({ problem: 'last_dropped_at: not a time' });
    expect(parseState(JSON.stringify({ ...good, unreported: [{ at: t(0), count: 'x' }] }))).toMatchObject({ problem: expect.stringMatching(/^unreported/) });
    expect(parseState(JSON.stringify({ ...good, dropping: ['1'] }))).toMatchObject({ problem: expect.stringMatching(/^dropping/) });
  });
});
