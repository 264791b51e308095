// Judging a run's measured targets together (pure): the same ids as measured, the canary rule, and a run cut short before its international canary.
import { describe, expect, it } from 'vitest';
import type { Evidence } from '../contract/evidence.js';
import { CONTROL_MAX_AGE_MS, type ControlSet } from '../probe/engine/options.js';
import { judgeRun, type MeasuredTarget } from '../probe/engine/run.js';
import { change, healthy, target, tlsBlocked } from './classify-builders.js';

const probe = { id: 'judge-probe', asn: null, cc: null, network: null, software: { name: 'ashyq-probe' as const, version: 'test' } };
const throttle = { ratio: 0.1, maxRateBps: 32_000, handshakeMs: 2000, canaryHandshakeMs: 300 };
const timing = { dns: 1, tcp: 1, tls: 1, http: 1 };

function measured(id: string, t: ReturnType<typeof target>, evidence = healthy(t)): MeasuredTarget {
  return { id, target: t, startedAt: Date.UTC(2024, 4, 9, 7), runtime: 100, result: { evidence, timing } };
}

const youtube = target({ id: 'youtube', domains: ['youtube.com'] });
const reset = change(healthy(youtube), 'tls', () => true, (o) => tlsBlocked('youtube.com', o.ip, o.port, 'connection_reset', 'ok'));
const international = target({ id: 'canary-intl', category: 'canary', canary: 'international', domains: ['www.wikipedia.org'] });

describe('judgeRun', () => {
  it('keeps the ids chosen when the targets were measured, and a block stands beside a reached international canary', () => {
    const out = judgeRun([measured('01HXE0TCR0J676KTK50MZF15E2', youtube, reset), measured('01HXE0TCR0J676KTK50MZF15E3', international)], { probe, throttle });
    expect(out.map((m) => [m.id, m.target.id, m.verdict.verdict])).toEqual([
      ['01HXE0TCR0J676KTK50MZF15E2', 'youtube', 'tls.reset'],
      ['01HXE0TCR0J676KTK50MZF15E3', 'canary-intl', 'ok'],
    ]);
  });

  it('makes a block of a run cut short before its international canary inconclusive, saying why; a run cut short with its canary keeps it', () => {
    const [alone] = judgeRun([measured('01HXE0TCR0J676KTK50MZF15E2', youtube, reset)], { probe, throttle }, true);
    expect(alone!.verdict.verdict).toBe('inconclusive');
    expect(alone!.verdict.reason).toContain('cut short before its international canary');
    expect(alone!.verdict.reason).toContain('tls.reset');
    const [kept] = judgeRun([measured('01HXE0TCR0J676KTK50MZF15E2', youtube, reset), measured('01HXE0TCR0J676KTK50MZF15E3', international)], { probe, throttle }, true);
    expect(kept!.verdict.verdict).toBe('tls.reset');
    // Not cut short: the target's own finding.
    expect(judgeRun([measured('01HXE0TCR0J676KTK50MZF15E2', youtube, reset)], { probe, throttle })[0]!.verdict.verdict).toBe('tls.reset');
  });
});

describe('judgeRun with the control vantage\'s evidence', () => {
  const T = Date.UTC(2024, 4, 9, 7);
  const facebook = target({ id: 'facebook', domains: ['www.facebook.com'] });
  const refused = change(healthy(facebook), 'tcp', () => true, (t) => ({ ...t, failure: 'connection_refused', rtt_ms: null }));
  const judged = (controls: ControlSet) =>
    judgeRun([measured('01HXE0TCR0J676KTK50MZF15E2', facebook, refused), measured('01HXE0TCR0J676KTK50MZF15E3', international)], { probe, throttle, controls });
  const set = (evidence: Evidence, minutes = 10, missing: string | null = null): ControlSet => ({
    byTarget: new Map([['facebook', { id: 'control-1', at: T - minutes * 60_000, evidence }]]),
    maxAgeMs: CONTROL_MAX_AGE_MS,
    missing,
  });

  it('a failure the control shares is down, never blocked', () => {
    expect(judged(set(refused)).map((m) => m.verdict.verdict)).toEqual(['down', 'ok']);
  });

  it('the control reaches the site: the block stands at its own confidence', () => {
    const [fb] = judged(set(healthy(facebook)));
    expect([fb!.verdict.verdict, fb!.verdict.confidence]).toEqual(['tcp.refused', 0.7]);
  });

  it('a control too far in time is not used: the block stands with a lower confidence, saying the control was missing', () => {
    const [fb] = judged(set(refused, 4 * 60));
    expect([fb!.verdict.verdict, fb!.verdict.confidence]).toEqual(['tcp.refused', 0.63]);
    expect(fb!.verdict.reason).toMatch(/no control evidence \(the collector's control was 240 min away\)/);
  });

  it('no control at all, or none could be fetched: the same, with the reason', () => {
    const none: ControlSet = { byTarget: new Map(), maxAgeMs: CONTROL_MAX_AGE_MS, missing: null };
    expect(judged(none)[0]!.verdict.reason).toMatch(/no control evidence \(the collector had no control of this target\)/);
    const failed: ControlSet = { ...none, missing: "the collector's control evidence could not be fetched: timeout" };
    expect(judged(failed)[0]!.verdict.reason).toMatch(/could not be fetched: timeout/);
  });

  it('control evidence the classifier cannot read is no control (nothing crashes)', () => {
    const broken = set({ dns: [{ domain: 5 }], tcp: [null], tls: 'x', http: [] } as unknown as Evidence);
    const [fb] = judged(broken);
    expect(fb!.verdict.verdict).toBe('tcp.refused');
  });
});
