// Tests of the human table's partial-scope summary ("3 of 5 endpoints: tcp.timeout").
import { describe, expect, it } from 'vitest';
import { partialSummary } from '../probe/cli/format.js';
import type { Decision } from '../contract/verdict.js';

const decision = (over: Partial<Decision>): Decision => ({ verdict: 'tcp.timeout', layer: 'tcp', confidence: 0.8, reason: 'r', subjects: [], ...over });

describe('partialSummary', () => {
  it('counts endpoints once over their ports', () => {
    const dcs = ['149.154.175.50', '149.154.167.51', '149.154.175.100', '149.154.167.91', '149.154.171.5'];
    const d = decision({
      scope: 'partial',
      subjects: dcs.slice(0, 3).flatMap((ip) => [`${ip}:443`, `${ip}:80`]),
      working: dcs.slice(3).flatMap((ip) => [`${ip}:443`, `${ip}:80`]),
    });
    expect(partialSummary(d)).toBe('3 of 5 endpoints: tcp.timeout');
  });

  it('names addresses and domains, and mixed kinds as subjects', () => {
    expect(partialSummary(decision({ verdict: 'tcp.reset', scope: 'partial', subjects: ['a.example 1.2.3.4:443'], working: ['a.example 1.2.3.5:443'] }))).toBe(
      '1 of 2 addresses: tcp.reset',
    );
    expect(partialSummary(decision({ verdict: 'tls.reset', scope: 'partial', subjects: ['i.ytimg.com'], working: ['www.youtube.com', 'm.youtube.com'] }))).toBe(
      '1 of 3 domains: tls.reset',
    );
    expect(partialSummary(decision({ scope: 'partial', subjects: ['149.154.175.50:443'], working: ['web.telegram.org'] }))).toBe('1 of 2 subjects: tcp.timeout');
  });

  it('says nothing for a full verdict', () => {
    expect(partialSummary(decision({ subjects: ['149.154.175.50:443'] }))).toBeNull();
  });
});
