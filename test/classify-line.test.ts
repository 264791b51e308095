// The line rules as tables: loss seen in a run, portal signs on the canaries, two attempts of one target, loss tempering blocks.
import { describe, expect, it } from 'vitest';
import { judgeAttempts } from '../probe/classify/attempts.js';
import { applyCanaries, canaryReached } from '../probe/classify/canary.js';
import { classify } from '../probe/classify/classify.js';
import { applyLine, assessLine, describeRunLine, lineOfRun, portalSign, SLOW_CONNECT_MS } from '../probe/classify/line.js';
import type { Evidence, LineQuality } from '../contract/evidence.js';
import type { Decision } from '../contract/verdict.js';
import { answer, cert, change, dnsObs, emptyEvidence, healthy, http, SYSTEM, SYSTEM_DIRECT, target, tls, UDP } from './classify-builders.js';

const site = target({ id: 'site', domains: ['www.site.test'], ports: [80, 443] });
const canary = target({ id: 'canary-intl', category: 'canary', canary: 'international', domains: ['www.wikipedia.org'], ports: [80, 443] });
const canary2 = target({ id: 'canary-kz', category: 'canary', canary: 'domestic', domains: ['egov.kz'], ports: [80, 443] });

/** `n` completed connects, `slow` of them as slow as a retransmitted SYN. */
function connects(n: number, slow: number): Evidence {
  const e = healthy(site);
  e.tcp = Array.from({ length: n }, (_, i) => ({ ...e.tcp[0]!, rtt_ms: i < slow ? SLOW_CONNECT_MS + 20 : 25 }));
  return e;
}

const line = (over: Partial<LineQuality>): LineQuality => ({ connects: 40, slow_connects: 0, dns_answered: 40, dns_resent: 0, loss: 'none', portal: null, ...over });

describe('assessLine: loss shows as exchanges that worked only after a retransmission', () => {
  it.each([
    { about: 'a clean line', n: 40, slow: 0, loss: 'none' },
    { about: 'one slow server is not a lossy line', n: 40, slow: 1, loss: 'none' },
    { about: 'a few slow connects: some loss', n: 40, slow: 4, loss: 'some' },
    { about: 'a third of the connects slow: heavy loss', n: 40, slow: 14, loss: 'heavy' },
  ])('$about ($slow of $n slow) → $loss', ({ n, slow, loss }) => {
    expect(assessLine([{ target: site, evidence: connects(n, slow) }]).loss).toBe(loss);
  });

  it('counts DNS queries answered only after a resend, never ones that got no answer (a resolver dropping a name is silence, not loss)', () => {
    const e = healthy(site);
    e.dns = [
      dnsObs('www.site.test', answer('www.site.test', UDP, ['203.0.113.9'], { sends: 2 }), answer('www.site.test', SYSTEM_DIRECT, ['203.0.113.9'], { sends: 3 })),
      dnsObs('silent.site.test', { ...answer('silent.site.test', UDP, []), addresses: [], rcode: null, failure: 'generic_timeout_error', operation: 'resolve', error: 'no response', sends: 5 }),
    ];
    const q = assessLine([{ target: site, evidence: e }]);
    expect([q.dns_answered, q.dns_resent]).toEqual([2, 2]);
  });

  it("counts a re-measured target's first attempt too", () => {
    const e = { ...connects(4, 0), first: connects(4, 4) };
    const q = assessLine([{ target: site, evidence: e }]);
    expect([q.connects, q.slow_connects]).toEqual([8, 4]);
  });
});

describe('portalSign: what on the canaries shows a captive portal', () => {
  const redirected = (location: string) =>
    change(healthy(canary), 'http', (h) => h.port === 80, (h) => ({ ...h, status: 302, headers: { location } }));

  it('a canary page redirected to another host (the address a portal echoes is never repeated)', () => {
    const sign = portalSign([{ target: canary, evidence: redirected('http://login.wifi.test/login?client=[address]') }]);
    expect(sign).toBe('plain HTTP to www.wikipedia.org was redirected to login.wifi.test (HTTP 302)');
  });

  it('a redirect to an address: named as another address', () => {
    expect(portalSign([{ target: canary, evidence: redirected('http://[address]:8080/login') }])).toMatch(/redirected to another address/);
  });

  it('a redirect within the same site (wikipedia.org → www.wikipedia.org, http → https) is no sign', () => {
    expect(portalSign([{ target: canary, evidence: redirected('https://www.wikipedia.org/') }])).toBeNull();
    expect(portalSign([{ target: canary, evidence: redirected('https://wikipedia.org/wiki') }])).toBeNull();
  });

  it('every canary name resolved by the system to one and the same private address', () => {
    const walled = (t: typeof canary) => {
      const d = t.domains[0]!;
      return { ...emptyEvidence(), dns: [dnsObs(d, answer(d, SYSTEM, ['10.0.0.1'], { failure: 'dns_bogon_error', bogons: ['10.0.0.1'] }))] };
    };
    expect(portalSign([{ target: canary, evidence: walled(canary) }, { target: canary2, evidence: walled(canary2) }])).toBe(
      'every canary name (2) resolved to one and the same private address',
    );
    // One canary name on a sinkhole is what a censor's bogon answer looks like: no portal sign.
    expect(portalSign([{ target: canary, evidence: walled(canary) }])).toBeNull();
  });

  it('the same untrusted certificate for different canary names', () => {
    const leaf = cert('CN=login.wifi.test', 'CN=login.wifi.test');
    const caught = (t: typeof canary) => {
      const d = t.domains[0]!;
      return change(healthy(t), 'tls', () => true, (o) => ({ ...tls(d, o.ip, 443), trusted: false, chain: [leaf] }));
    };
    expect(portalSign([{ target: canary, evidence: caught(canary) }, { target: canary2, evidence: caught(canary2) }])).toMatch(
      /HTTPS to 2 canary names presented one and the same untrusted certificate \(issuer CN=login\.wifi\.test\)/,
    );
  });

  it('healthy canaries show nothing', () => {
    expect(portalSign([{ target: canary, evidence: healthy(canary) }, { target: canary2, evidence: healthy(canary2) }])).toBeNull();
  });
});

const blocked = (verdict: Decision['verdict'], subjects = ['www.site.test'], confidence = 0.8): Decision => ({
  verdict,
  layer: verdict.startsWith('dns') ? 'dns' : verdict.startsWith('tcp') ? 'tcp' : verdict.startsWith('tls') ? 'tls' : 'http',
  confidence,
  reason: `${verdict} seen`,
  subjects,
});
const ok: Decision = { verdict: 'ok', layer: null, confidence: 0.9, reason: 'works', subjects: ['www.site.test'] };

describe('judgeAttempts: a censor fails a target again the same way, loss rarely does', () => {
  it.each([
    { about: 'failed, then worked: the second', first: blocked('tcp.timeout'), second: ok, verdict: 'ok', reason: /measured again: the first attempt found tcp\.timeout/ },
    { about: 'the same block twice: the block', first: blocked('tcp.timeout'), second: blocked('tcp.timeout'), verdict: 'tcp.timeout', reason: /found again when measured a second time/ },
    { about: 'two different blocks: inconclusive', first: blocked('dns.inconsistent'), second: blocked('tls.timeout'), verdict: 'inconclusive', reason: /the two attempts disagree/ },
    { about: 'the same verdict on other subjects: inconclusive', first: blocked('tcp.timeout', ['a.site.test']), second: blocked('tcp.timeout', ['b.site.test']), verdict: 'inconclusive', reason: /disagree/ },
  ])('$about', ({ first, second, verdict, reason }) => {
    const d = judgeAttempts(first, second);
    expect(d.verdict).toBe(verdict);
    expect(d.reason).toMatch(reason);
  });
});

describe('applyLine: what a lossy line does to the blocks loss can fake', () => {
  const timedOut = change(healthy(site), 'tcp', () => true, (t) => ({ ...t, failure: 'generic_timeout_error', rtt_ms: null }));

  it('a clean line changes nothing', () => {
    expect(applyLine(blocked('tcp.timeout'), { ...timedOut, line: line({}) })).toEqual(blocked('tcp.timeout'));
  });

  it('some loss: the block stands with a lower confidence, saying why', () => {
    const d = applyLine(blocked('tcp.timeout'), { ...timedOut, line: line({ loss: 'some', slow_connects: 4 }) });
    expect([d.verdict, d.confidence]).toEqual(['tcp.timeout', 0.64]);
    expect(d.reason).toMatch(/the line lost packets in this run \(4 of 40 connects/);
  });

  it('heavy loss: inconclusive', () => {
    const d = applyLine(blocked('tcp.timeout'), { ...timedOut, line: line({ loss: 'heavy' }) });
    expect(d.verdict).toBe('inconclusive');
    expect(d.reason).toMatch(/a tcp\.timeout cannot be told from loss/);
  });

  it('heavy loss, but every connect failed in both measurements: a blackhole stays a block, with a lower confidence', () => {
    const d = applyLine(blocked('tcp.timeout'), { ...timedOut, first: timedOut, line: line({ loss: 'heavy' }) });
    expect([d.verdict, d.confidence]).toEqual(['tcp.timeout', 0.48]);
  });

  it('heavy loss: throttling is inconclusive (a bulk read through loss crawls anyway)', () => {
    expect(applyLine(blocked('http.throttled'), { ...healthy(site), line: line({ loss: 'heavy' }) }).verdict).toBe('inconclusive');
  });

  it('blocks loss cannot fake keep their verdict and confidence (a reset, a block page, a forged answer)', () => {
    for (const v of ['tcp.reset', 'http.blockpage', 'dns.injected', 'tls.interception'] as const) {
      expect(applyLine(blocked(v), { ...timedOut, line: line({ loss: 'heavy' }) })).toEqual(blocked(v));
    }
  });

  it('classify applies both: a target measured twice on a heavy-loss line', () => {
    const firstTimedOut = change(healthy(site), 'tcp', (t) => t.port === 443, (t) => ({ ...t, failure: 'generic_timeout_error', rtt_ms: null }));
    const e: Evidence = { ...healthy(site), first: firstTimedOut, line: line({ loss: 'heavy' }) };
    const d = classify(site, e);
    expect(d.verdict).toBe('ok');
    expect(d.reason).toMatch(/measured again: the first attempt found tcp\.timeout/);
  });
});

describe('the canary rule: a canary blocked as a whole is not reached', () => {
  const refused = (t: typeof canary) => change(healthy(t), 'tcp', (o) => o.port === 443, (o) => ({ ...o, failure: 'connection_refused', rtt_ms: null }));

  it('connected on 80, refused on 443 (a portal): not reached', () => {
    const e = refused(canary);
    expect(canaryReached(e, classify(canary, e))).toBe(false);
    expect(canaryReached(e)).toBe(true);
  });

  it('partly blocked (some of its addresses work): reached', () => {
    expect(canaryReached(healthy(canary), { ...blocked('tcp.timeout'), scope: 'partial', working: ['x'] })).toBe(true);
  });

  it('offline behind a portal: the reason and lineOfRun name its sign', () => {
    const portal = 'plain HTTP to www.wikipedia.org was redirected to login.wifi.test (HTTP 302)';
    const q = line({ portal });
    const runs = [site, canary, canary2].map((t) => {
      const e = { ...refused(t), line: q };
      return { target: t, evidence: e, decision: classify(t, e) };
    });
    const decisions = applyCanaries(runs);
    expect(decisions.map((d) => d.verdict)).toEqual(['offline', 'offline', 'offline']);
    expect(decisions[0]!.reason).toMatch(/^probe offline behind a captive portal or an operator's wall .*\(plain HTTP to www\.wikipedia\.org was redirected to login\.wifi\.test \(HTTP 302\)\), every canary failed \(canary-intl \(international\): tcp\.refused/);
    const ms = runs.map((r, i) => ({ verdict: decisions[i]!, evidence: r.evidence }));
    expect(lineOfRun(ms)).toEqual({ loss: 'none', portal });
    expect(describeRunLine(lineOfRun(ms))).toMatch(/^behind a captive portal or an operator's wall/);
  });
});
