// Table of evidence → verdict for the classifier's own rules: how findings on several subjects and layers combine,
// confidence arithmetic, and evidence too thin to judge. The censorship cases are in the catalogue (test/catalogue/).
import { describe, expect, it } from 'vitest';
import { classify } from '../probe/classify/classify.js';
import type { Evidence } from '../contract/evidence.js';
import type { Target } from '../contract/target.js';
import type { Layer, Verdict } from '../contract/verdict.js';
import { FB, facebook, fbTcp, telegram, web, youtube } from './catalogue/targets.js';
import { DOH, SYSTEM, answer, cert, change, deepFreeze, dnsFailure, emptyEvidence, healthy, http, httpFailed, target, tlsBlocked, tlsUntrusted, withDns } from './classify-builders.js';
import type { BulkObservation } from '../contract/evidence.js';

const throttledTarget = target({ id: 'twitter-cdn', domains: ['abs.twimg.com'], http: null, bulk: 'https://abs.twimg.com/static/bundle.js' });
const slowRead: BulkObservation = { ...http('abs.twimg.com', '152.199.21.141', 200, { body_length: 16_000 }), body_ms: 4000, rate_bps: 4000, ended: 'time' };
const BLOCKED_HEAD =
  '<html><head><title>Доступ ограничен</title></head><body><h1>Доступ к данному ресурсу ограничен</h1>' +
  '<p>в соответствии с законодательством Республики Казахстан</p></body></html>';

interface Case {
  name: string;
  target: Target;
  evidence: Evidence;
  control?: Evidence;
  verdict: Verdict;
  layer?: Layer | null;
  confidence?: number;
  subjects?: string[];
  reason?: RegExp[];
  /** Checked whenever the case names it: partial with these working subjects, or undefined (full). */
  scope?: 'partial' | undefined;
  working?: string[];
}

const cases: Case[] = [
  {
    name: 'ok: fixed endpoints are judged over TCP only (no TLS is made with them)',
    target: telegram,
    evidence: healthy(telegram),
    verdict: 'ok',
    subjects: ['web.telegram.org', '149.154.167.51:443', '149.154.175.50:443'],
  },
  {
    name: 'DNS precedence: bogon on one domain outranks NXDOMAIN on another',
    target: youtube,
    evidence: withDns(
      withDns(healthy(youtube), 'i.ytimg.com', dnsFailure('i.ytimg.com', SYSTEM, 'dns_nxdomain_error'), answer('i.ytimg.com', DOH, ['142.250.74.14'])),
      'www.youtube.com',
      answer('www.youtube.com', SYSTEM, ['0.0.0.0'], { bogons: ['0.0.0.0'] }),
      answer('www.youtube.com', DOH, ['142.250.74.46']),
    ),
    verdict: 'dns.bogon',
    subjects: ['www.youtube.com'],
  },
  {
    name: 'tcp.timeout with lower confidence: the addresses disagree on the failure',
    target: facebook,
    evidence: (() => {
      const e = healthy(facebook, { [FB]: ['31.13.72.36', '31.13.72.37', '157.240.9.35'] });
      return change(e, 'tcp', () => true, (t) => ({ ...t, failure: t.ip === '157.240.9.35' ? 'connection_reset' : 'generic_timeout_error' }));
    })(),
    verdict: 'tcp.timeout',
    confidence: 0.64,
    reason: [/at 2 of 3 addresses .*the others: connection_reset/],
  },
  {
    name: 'layer order: a TCP finding on one domain outranks TLS interception on another',
    target: youtube,
    evidence: (() => {
      const e = change(healthy(youtube), 'tcp', (t) => t.domain === 'i.ytimg.com', (t) => ({ ...t, failure: 'generic_timeout_error' }));
      return change(e, 'tls', (t) => t.domain === 'www.youtube.com', (t) =>
        tlsUntrusted('www.youtube.com', t.ip, t.port, [cert('CN=www.youtube.com', 'C=KZ, CN=Security Certificate')]),
      );
    })(),
    verdict: 'tcp.timeout',
    subjects: ['i.ytimg.com'],
  },
  {
    name: 'inconclusive: no evidence at all',
    target: facebook,
    evidence: emptyEvidence(),
    verdict: 'inconclusive',
    layer: null,
    subjects: [],
  },
  {
    name: 'inconclusive: TCP connected but no TLS handshake was recorded',
    target: facebook,
    evidence: { ...healthy(facebook), tls: [] },
    verdict: 'inconclusive',
    reason: [/no TLS handshake on port 443 was recorded/],
  },
  {
    name: 'a finding wins over another subject being inconclusive',
    target: youtube,
    evidence: (() => {
      const e = withDns(healthy(youtube), 'i.ytimg.com', dnsFailure('i.ytimg.com', SYSTEM, 'dns_servfail_error'), dnsFailure('i.ytimg.com', DOH, 'unknown_failure'));
      return change(e, 'tls', (t) => t.domain === 'www.youtube.com', (t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok'));
    })(),
    verdict: 'tls.reset',
    subjects: ['www.youtube.com'],
  },
  {
    name: 'several subjects with the same verdict are all listed',
    target: youtube,
    evidence: change(healthy(youtube), 'tls', () => true, (t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok')),
    verdict: 'tls.reset',
    subjects: ['www.youtube.com', 'i.ytimg.com'],
    reason: [/; the same for i\.ytimg\.com$/],
  },
  {
    name: 'partial: a whole-domain finding outranks a partial finding on some addresses of another domain',
    target: youtube,
    evidence: (() => {
      const e = healthy(youtube, { 'www.youtube.com': ['142.250.74.46', '142.250.74.47'] });
      const reset = change(e, 'tcp', (t) => t.ip === '142.250.74.47', (t) => ({ ...t, failure: 'connection_reset', rtt_ms: null }));
      return change(reset, 'tls', (t) => t.domain === 'i.ytimg.com', (t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok'));
    })(),
    verdict: 'tls.reset',
    subjects: ['i.ytimg.com'],
    scope: undefined,
  },
  {
    name: 'partial: one domain blocked while the other works lists the working one',
    target: youtube,
    evidence: change(healthy(youtube), 'tls', (t) => t.domain === 'i.ytimg.com', (t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok')),
    verdict: 'tls.reset',
    subjects: ['i.ytimg.com'],
    scope: 'partial',
    working: ['www.youtube.com'],
  },
  {
    name: 'partial: a failing IPv6 address beside a working IPv4 one is not partial blocking (no IPv6 that works)',
    target: facebook,
    evidence: change(healthy(facebook), 'tcp', (t) => t.ip.includes(':'), (t) => ({ ...t, failure: 'generic_timeout_error', rtt_ms: null })),
    verdict: 'ok',
    scope: undefined,
  },
  {
    name: 'per scheme: a block page on https outranks a reset on plain http',
    target: web,
    evidence: change(
      change(healthy(web), 'http', (h) => h.port === 80, (h) => ({ ...httpFailed(h.domain, h.ip, 'connection_reset'), url: h.url, port: 80 })),
      'http',
      (h) => h.port === 443,
      (h) => ({ ...h, body_head: BLOCKED_HEAD, title: 'Доступ ограничен' }),
    ),
    verdict: 'http.blockpage',
    reason: [/on port 443/],
  },
  {
    name: 'throttling has no partial scope of its own',
    target: throttledTarget,
    evidence: { ...healthy(throttledTarget), bulk: [slowRead], baseline: { canaries: ['wikipedia'], bulk_rate_bps: 3_000_000, tls_handshake_ms: 30 } },
    verdict: 'http.throttled',
    layer: 'http',
    subjects: ['abs.twimg.com'],
    scope: undefined,
  },
  {
    name: 'throttling is outranked by any blocking',
    target: throttledTarget,
    evidence: {
      ...change(healthy(throttledTarget), 'tls', () => true, (t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok')),
      bulk: [slowRead],
      baseline: { canaries: ['wikipedia'], bulk_rate_bps: 3_000_000, tls_handshake_ms: 30 },
    },
    verdict: 'tls.reset',
  },
  {
    name: 'without a baseline in the evidence (no canary in the run), a slow bulk read is no verdict',
    target: throttledTarget,
    evidence: { ...healthy(throttledTarget), bulk: [slowRead] },
    verdict: 'ok',
  },
];

describe('classify: rules table', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const evidence = deepFreeze(structuredClone(c.evidence));
    const control = c.control === undefined ? undefined : deepFreeze(structuredClone(c.control));
    const d = classify(deepFreeze(structuredClone(c.target)), evidence, control === undefined ? {} : { control });
    expect(d.verdict).toBe(c.verdict);
    if (c.layer !== undefined) expect(d.layer).toBe(c.layer);
    if (c.confidence !== undefined) expect(d.confidence).toBeCloseTo(c.confidence, 5);
    if (c.subjects !== undefined) expect(d.subjects).toEqual(c.subjects);
    for (const re of c.reason ?? []) expect(d.reason).toMatch(re);
    if ('scope' in c) expect(d.scope).toBe(c.scope);
    if (c.working !== undefined) expect(d.working).toEqual(c.working);
    expect(d.confidence).toBeGreaterThan(0);
    expect(d.confidence).toBeLessThanOrEqual(1);
    expect(d.reason.length).toBeGreaterThan(10);
    if (d.verdict === 'ok' || d.verdict === 'inconclusive') expect(d.layer).toBeNull();
    else expect(d.layer).not.toBeNull();
  });
});
