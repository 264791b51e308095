// HTTP censorship cases: block pages, answers that differ from what the real site sends, and throttled pages.
import { expect } from 'vitest';
import { addressesOf, change, healthy, http, httpFailed, target } from '../classify-builders.js';
import type { Baseline, BulkObservation } from '../../contract/evidence.js';
import { labTarget } from '../lab/topology.js';
import { BULK_PATH } from '../loopback/world.js';
import type { CatalogueCase } from './case.js';
import { measured } from './lab-run.js';
import { facebook, news, web } from './targets.js';

/** The start of a Kazakh ISP's notice (matched by its fingerprint in probe/blockpages.ts). */
const BLOCKPAGE_HEAD =
  '<html><head><title>Доступ ограничен</title></head><body><h1>Доступ к данному ресурсу ограничен</h1>' +
  '<p>в соответствии с законодательством Республики Казахстан</p></body></html>';

const ip = (id: string) => labTarget(id).ip;

/** Twitter's static host with a bulk resource. */
const bulkTarget = target({ id: 'twitter-cdn', domains: ['abs.twimg.com'], http: null, bulk: 'https://abs.twimg.com/static/bundle.js' });

/** A bulk read of abs.twimg.com stopped by its time bound at `rate` bytes per second. */
function bulkRead(domain: string, rate: number): BulkObservation {
  const ms = 4000;
  return {
    ...http(domain, addressesOf(domain)[0] as string, 200, { url: `https://${domain}/static/bundle.js`, body_length: Math.round((rate * ms) / 1000) }),
    body_ms: ms,
    rate_bps: rate,
    ended: 'time',
  };
}

/** The canaries' figures of the run. */
function baseline(rate: number | null, handshakeMs: number | null): Baseline {
  return { canaries: ['wikipedia'], bulk_rate_bps: rate, tls_handshake_ms: handshakeMs };
}

/** Facebook answering 403 "Forbidden" where 200/301/302 is expected. */
const forbidden = () => change(healthy(facebook), 'http', () => true, (h) => ({ ...h, status: 403, title: 'Forbidden' }));
/** Facebook's HTTP answer is not HTTP. */
const invalidResponse = () => change(healthy(facebook), 'http', () => true, (h) => httpFailed(h.domain, h.ip, 'http_invalid_response'));

export const httpCases: CatalogueCase[] = [
  // http.blockpage
  {
    name: 'http-blockpage',
    verdict: 'http.blockpage',
    evidence: {
      about: 'a Kazakh notice instead of the site',
      target: news,
      evidence: change(healthy(news), 'http', () => true, (h) => ({
        ...h,
        status: 200,
        title: 'Доступ ограничен',
        body_length: 1200,
        body_head:
          '<html><head><title>Доступ ограничен</title></head><body><h1>Доступ к данному ресурсу ограничен</h1>' +
          '<p>в соответствии с законодательством Республики Казахстан</p></body></html>',
      })),
      expect: { layer: 'http', confidence: 0.95, reason: [/a block page: .*\[kz\.law_notice_ru\]/] },
    },
    loopback: {
      about: 'plain-HTTP request answered with the ISP block page',
      target: { id: 'azattyq-http', domains: ['www.azattyq.org'], ports: [80], tls_ports: [], http: { path: '/', status: [200] } },
      censor: { http: { 'www.azattyq.org': 'blockpage' } },
      expect: {
        layer: 'http',
        observations: [{ layer: 'http', domain: 'www.azattyq.org', has: { status: 200, title: 'Доступ к ресурсу ограничен' } }],
      },
    },
    lab: {
      summary: 'plain HTTP to Azattyq gets the ISP block page',
      mechanism: `iptables -t nat PREROUTING -d ${ip('azattyq')} --dport 80 -j DNAT to the censor's nginx serving the notice`,
      apply: (c) => c.blockpage([ip('azattyq')]),
      blocked: { azattyq: { verdict: 'http.blockpage', layer: 'http' } },
      check(r) {
        const http = measured(r, 'azattyq').evidence.http;
        expect(http.length).toBe(2);
        for (const h of http) {
          expect(h.status).toBe(200);
          expect(h.title).toBe('Доступ к ресурсу ограничен');
          // The probe dialled the target's own address: the censor answered in its place.
          expect(h.ip).toBe(ip('azattyq'));
        }
      },
    },
  },
  {
    name: 'http-only-blockpage',
    verdict: 'http.blockpage',
    evidence: {
      about: 'a block page on http:// while https:// answers',
      target: web,
      evidence: change(healthy(web), 'http', (h) => h.port === 80, (h) => ({ ...h, status: 200, title: 'Доступ ограничен', body_head: BLOCKPAGE_HEAD })),
      expect: { layer: 'http', subjects: ['www.instagram.com'], reason: [/http:\/\/www\.instagram\.com\/ on port 80 at .* a block page/] },
    },
    loopback: {
      about: 'the ISP block page on plain HTTP only; HTTPS answers',
      target: { id: 'youtube', domains: ['youtube.com'], ports: [80, 443] },
      censor: { plainHttp: { 'youtube.com': 'blockpage' } },
      expect: {
        layer: 'http',
        observations: [
          { layer: 'http', domain: 'youtube.com', port: 80, has: { status: 200, title: 'Доступ к ресурсу ограничен' } },
          { layer: 'http', domain: 'youtube.com', port: 443, has: { status: 200, title: 'youtube.com' } },
        ],
      },
    },
    lab: {
      summary: "plain HTTP to YouTube's address gets the ISP block page; HTTPS to it works",
      mechanism: `iptables -t nat PREROUTING -d ${ip('youtube')} --dport 80 -j DNAT to the censor's nginx serving the notice`,
      apply: (c) => c.blockpage([ip('youtube')]),
      blocked: { youtube: { verdict: 'http.blockpage', layer: 'http' } },
      check(r) {
        const m = measured(r, 'youtube');
        const plain = m.evidence.http.filter((h) => h.port === 80);
        const secure = m.evidence.http.filter((h) => h.port === 443);
        expect(plain.length).toBe(labTarget('youtube').domains.length);
        for (const h of plain) expect([h.url.slice(0, 7), h.status, h.title]).toEqual(['http://', 200, 'Доступ к ресурсу ограничен']);
        expect(secure.length).toBe(labTarget('youtube').domains.length);
        for (const h of secure) expect([h.url.slice(0, 8), h.status, h.title]).toEqual(['https://', 200, labTarget('youtube').name]);
        expect(m.verdict.reason).toMatch(/http:\/\/[a-z.]+\/ on port 80 at /);
      },
    },
  },
  {
    name: 'https-only-blockpage',
    verdict: 'http.blockpage',
    evidence: {
      about: 'the reverse: a block page on https:// while http:// answers',
      target: web,
      evidence: change(healthy(web), 'http', (h) => h.port === 443, (h) => ({ ...h, status: 200, title: 'Доступ ограничен', body_head: BLOCKPAGE_HEAD })),
      expect: { reason: [/https:\/\/www\.instagram\.com\/ on port 443 at .* a block page/] },
    },
  },
  {
    name: 'rferl-blockpage',
    verdict: 'http.blockpage',
    evidence: { fixture: 'rferl-blockpage' },
  },
  {
    name: 'blockpage-redirect',
    verdict: 'http.blockpage',
    evidence: {
      about: 'a redirect to an ISP block host',
      target: news,
      evidence: change(healthy(news), 'http', () => true, (h) => ({
        ...h,
        status: 302,
        headers: { location: 'http://blocked.isp-example.kz/?url=www.rferl.org' },
        body_length: 0,
        body_head: '',
        title: null,
      })),
      expect: { reason: [/redirecting to http:\/\/blocked\.isp-example\.kz/] },
    },
  },

  // http.diff
  {
    name: 'unexpected-status',
    verdict: 'http.diff',
    evidence: {
      about: 'an unexpected status: 0.5',
      target: facebook,
      evidence: forbidden(),
      expect: { layer: 'http', confidence: 0.5, reason: [/answered HTTP 403 \("Forbidden"\) where 200\/301\/302 was expected/] },
    },
    loopback: {
      about: 'the site answers a status it never sends',
      target: { id: 'psiphon', domains: ['psiphon.ca'] },
      censor: { http: { 'psiphon.ca': { status: 404 } } },
      expect: {
        layer: 'http',
        observations: [{ layer: 'http', domain: 'psiphon.ca', has: { status: 404 } }],
      },
    },
  },
  {
    name: 'garbage-instead-of-http',
    verdict: 'http.diff',
    loopback: {
      about: 'garbage instead of HTTP on port 80',
      target: { id: 'kaspi-http', domains: ['kaspi.kz'], ports: [80], tls_ports: [], http: { path: '/', status: [200] } },
      censor: { http: { 'kaspi.kz': 'garbage' } },
      expect: {
        layer: 'http',
        observations: [{ layer: 'http', domain: 'kaspi.kz', has: { failure: 'http_invalid_response' } }],
      },
    },
  },
  {
    name: 'eof-after-handshake',
    verdict: 'http.diff',
    evidence: {
      about: 'the connection closed after a good TLS handshake: 0.4',
      target: facebook,
      evidence: change(healthy(facebook), 'http', () => true, (h) => httpFailed(h.domain, h.ip, 'eof_error')),
      expect: { confidence: 0.4, reason: [/failed after a good handshake \(eof_error during http_request\)/] },
    },
  },

  // http.reset
  {
    name: 'reset-after-handshake',
    verdict: 'http.reset',
    evidence: {
      about: 'reset after the request over a good TLS handshake',
      target: facebook,
      evidence: change(healthy(facebook), 'http', () => true, (h) => httpFailed(h.domain, h.ip, 'connection_reset')),
      expect: {
        layer: 'http',
        confidence: 0.8,
        reason: [/https:\/\/www\.facebook\.com\/ on port 443 at .* was reset after the request was sent \(connection_reset during http_request\), while the TCP connect and TLS handshake succeeded/],
      },
    },
  },
  {
    name: 'host-keyword-reset',
    verdict: 'http.reset',
    evidence: {
      about: 'plain HTTP on port 80 reset after the request while HTTPS answers',
      target: web,
      evidence: change(healthy(web), 'http', (h) => h.port === 80, (h) => ({ ...httpFailed(h.domain, h.ip, 'connection_reset'), url: h.url, port: 80 })),
      expect: {
        layer: 'http',
        subjects: ['www.instagram.com'],
        reason: [/http:\/\/www\.instagram\.com\/ on port 80 at .* was reset after the request was sent .* while the TCP connect succeeded/],
      },
    },
    loopback: {
      about: 'a keyword filter resets the plain-HTTP request; the connect and HTTPS are fine',
      target: { id: 'instagram', domains: ['www.instagram.com'], ports: [80, 443] },
      censor: { plainHttp: { 'www.instagram.com': 'reset-request' } },
      expect: {
        layer: 'http',
        observations: [
          { layer: 'tcp', domain: 'www.instagram.com', port: 80, has: { failure: null } },
          { layer: 'http', domain: 'www.instagram.com', port: 80, has: { failure: 'connection_reset', operation: 'http_request' } },
          { layer: 'http', domain: 'www.instagram.com', port: 443, has: { status: 200, failure: null } },
        ],
      },
    },
    lab: {
      summary: 'a request on port 80 carrying "instagram.com" (its Host header) is reset; the connect and HTTPS are fine',
      mechanism: 'iptables -A FORWARD -p tcp --dport 80 -m string --icase --string instagram.com -j REJECT --reject-with tcp-reset',
      apply: (c) => c.resetHttpKeyword('instagram.com'),
      blocked: { instagram: { verdict: 'http.reset', layer: 'http' } },
      check(r) {
        const m = measured(r, 'instagram');
        // The SYN and the handshake carry no keyword: every connect (80 and 443) and TLS handshake worked.
        for (const t of m.evidence.tcp) expect(t.failure, `${t.ip}:${t.port}`).toBeNull();
        for (const t of m.evidence.tls) expect(t.failure, t.sni ?? '').toBeNull();
        const plain = m.evidence.http.filter((h) => h.port === 80);
        const secure = m.evidence.http.filter((h) => h.port === 443);
        expect(plain.length).toBe(2);
        for (const h of plain) expect([h.url.slice(0, 7), h.failure, h.operation]).toEqual(['http://', 'connection_reset', 'http_request']);
        expect(secure.length).toBe(2);
        for (const h of secure) expect([h.url.slice(0, 8), h.status]).toEqual(['https://', 200]);
        expect(m.verdict.reason).toMatch(/on port 80 .* was reset after the request was sent/);
      },
    },
  },

  // http.timeout
  {
    name: 'silent-after-request',
    verdict: 'http.timeout',
    evidence: {
      about: 'no answer after the plain-HTTP request while the connect worked',
      target: web,
      evidence: change(healthy(web), 'http', (h) => h.port === 80, (h) => ({ ...httpFailed(h.domain, h.ip, 'generic_timeout_error'), url: h.url, port: 80 })),
      expect: { layer: 'http', confidence: 0.7, reason: [/on port 80 at .* got no answer after the request was sent \(generic_timeout_error during http_request\)/] },
    },
    loopback: {
      about: 'the plain-HTTP request is swallowed: the connection stays open, nothing answers',
      target: { id: 'instagram', domains: ['www.instagram.com'], ports: [80, 443] },
      censor: { plainHttp: { 'www.instagram.com': 'silent' } },
      expect: {
        layer: 'http',
        observations: [{ layer: 'http', domain: 'www.instagram.com', port: 80, has: { failure: 'generic_timeout_error', operation: 'http_request' } }],
      },
    },
    lab: {
      summary: 'a request on port 80 carrying "facebook.com" (its Host header) is dropped after the handshake; HTTPS is fine',
      mechanism: 'iptables -A FORWARD -p tcp --dport 80 -m string --icase --string facebook.com -j DROP',
      apply: (c) => c.dropHttpKeyword('facebook.com'),
      blocked: { facebook: { verdict: 'http.timeout', layer: 'http' } },
      check(r) {
        const m = measured(r, 'facebook');
        // The handshake carries no keyword: every connect (80 and 443) and TLS handshake worked.
        for (const t of m.evidence.tcp) expect(t.failure, `${t.ip}:${t.port}`).toBeNull();
        for (const t of m.evidence.tls) expect([t.failure, t.trusted], t.sni ?? '').toEqual([null, true]);
        const plain = m.evidence.http.filter((h) => h.port === 80);
        const secure = m.evidence.http.filter((h) => h.port === 443);
        expect(plain.length).toBe(2);
        for (const h of plain) expect([h.url.slice(0, 7), h.failure, h.operation, h.status]).toEqual(['http://', 'generic_timeout_error', 'http_request', null]);
        expect(secure.length).toBe(2);
        for (const h of secure) expect([h.url.slice(0, 8), h.status]).toEqual(['https://', 200]);
        expect(m.verdict.reason).toMatch(/http:\/\/.*facebook\.com\/ on port 80 at .* got no answer after the request was sent/);
      },
    },
  },

  // http.throttled
  {
    name: 'throttling',
    verdict: 'http.throttled',
    evidence: {
      about: "the bulk read crawls at 4 kB/s while the canary's reaches 2 MB/s in the same run",
      target: bulkTarget,
      evidence: { ...healthy(bulkTarget), bulk: [bulkRead('abs.twimg.com', 4_000)], baseline: baseline(2_000_000, 40) },
      expect: {
        layer: 'http',
        confidence: 0.8,
        subjects: ['abs.twimg.com'],
        reason: [/read at 4\.0 kB\/s .* where the canaries \(wikipedia\) reached 2\.00 MB\/s in the same run/],
      },
    },
    loopback: {
      about: "the bulk resource trickles at 16 kB/s while the canary's comes at loopback speed; handshakes are fine",
      target: { id: 'twitter-cdn', domains: ['abs.twimg.com'], http: null, bulk: `https://abs.twimg.com${BULK_PATH}` },
      censor: { throttle: { 'abs.twimg.com': 16_000 } },
      expect: {
        layer: 'http',
        // The canary's rate (its read of the same size over loopback) is in the reason beside the target's.
        reason: [/abs\.twimg\.com.* read at [\d.]+ kB\/s .* where the canaries \(canary-international\) reached [\d.]+ MB\/s in the same run/],
        observations: [
          { layer: 'tls', domain: 'abs.twimg.com', has: { failure: null, trusted: true } },
          // Stopped by its time bound, not failed.
          { layer: 'bulk', domain: 'abs.twimg.com', has: { status: 200, failure: null, ended: 'time' } },
        ],
      },
    },
    lab: {
      summary: "Twitter's connections shaped to 32 kbit/s after their first 16 KiB: handshakes and the page pass, the bulk read crawls",
      mechanism: `tc htb class of 32kbit on the censor's client link; iptables -t mangle POSTROUTING -s ${ip('twitter')} -m connbytes --connbytes 16384: --connbytes-dir reply -j CLASSIFY`,
      apply: (c) => c.throttle([ip('twitter')], '32kbit', 16384),
      blocked: { twitter: { verdict: 'http.throttled', layer: 'http' } },
      check(r) {
        const m = measured(r, 'twitter');
        // Handshakes and the front page fit under the shaper's threshold: they pass at full speed.
        for (const t of m.evidence.tls) expect([t.failure, t.trusted], t.sni ?? '').toEqual([null, true]);
        for (const h of m.evidence.http) expect([h.failure, h.status], h.url).toEqual([null, 200]);
        // The bulk read is stopped by its time bound, far slower than the canary's in the same run.
        const [bulk] = m.evidence.bulk ?? [];
        expect(bulk?.ended).toBe('time');
        expect(bulk?.failure).toBeNull();
        expect(bulk?.rate_bps ?? Infinity).toBeLessThan(32_000);
        const canaryRate = m.evidence.baseline?.bulk_rate_bps ?? 0;
        expect(canaryRate).toBeGreaterThan(10 * (bulk?.rate_bps ?? Infinity));
        // The canary's read ends with the whole resource (its size is the bound) at full speed.
        expect(['complete', 'size']).toContain(measured(r, 'example').evidence.bulk?.[0]?.ended);
        expect(m.verdict.reason).toMatch(/read at [\d.]+ kB\/s .* where the canaries \(wikipedia, example\) reached/);
      },
    },
  },
  {
    name: 'slow-handshakes',
    verdict: 'http.throttled',
    evidence: {
      about: "every TLS handshake takes over 2 s while the canary's takes 40 ms",
      target: facebook,
      evidence: { ...change(healthy(facebook), 'tls', () => true, (t) => ({ ...t, rtt_ms: 2600 })), baseline: baseline(null, 40) },
      expect: { layer: 'tls', confidence: 0.6, reason: [/fastest TLS handshake of the target took 2600 ms where the canaries' \(wikipedia\) took 40 ms/] },
    },
    loopback: {
      about: "the server's first flight of every handshake held back 2.3 s on the path while the canary's handshake is quick",
      target: { id: 'facebook', domains: ['www.facebook.com'] },
      censor: { slowHandshake: { 'www.facebook.com': 2300 } },
      timeoutMs: 4000,
      expect: {
        layer: 'tls',
        reason: [/fastest TLS handshake of the target took (2[3-9]\d\d|[3-9]\d\d\d) ms where the canaries' \(canary-international\) took \d{1,3} ms/],
        observations: [
          { layer: 'tls', domain: 'www.facebook.com', has: { failure: null, trusted: true } },
          { layer: 'http', domain: 'www.facebook.com', port: 443, has: { status: 200, failure: null } },
        ],
      },
    },
  },
  {
    name: 'bulk-slow-but-canary-too',
    verdict: 'ok',
    evidence: {
      about: 'a slow bulk read on a line where the canary is as slow is no throttling',
      target: bulkTarget,
      evidence: { ...healthy(bulkTarget), bulk: [bulkRead('abs.twimg.com', 20_000)], baseline: baseline(25_000, 40) },
    },
  },
  {
    name: 'bulk-below-ratio-but-fast',
    verdict: 'ok',
    evidence: {
      about: "below a tenth of the canary's rate but above 32 kB/s: not throttling",
      target: bulkTarget,
      evidence: { ...healthy(bulkTarget), bulk: [bulkRead('abs.twimg.com', 400_000)], baseline: baseline(50_000_000, 40) },
    },
  },

  // ok
  {
    name: 'status-matches-control',
    verdict: 'ok',
    control: {
      about: 'the control gets the same status and title (the expectation is out of date)',
      target: facebook,
      evidence: forbidden(),
      control: forbidden(),
    },
  },

  // down
  {
    name: 'http-down',
    verdict: 'down',
    control: {
      about: 'HTTP fails the same way at the control',
      target: facebook,
      evidence: invalidResponse(),
      control: invalidResponse(),
      expect: { layer: 'http' },
    },
  },

  // inconclusive
  {
    name: 'http-step-could-not-reconnect',
    verdict: 'inconclusive',
    evidence: {
      about: 'not http.diff: the HTTP step could not reconnect',
      target: facebook,
      evidence: change(healthy(facebook), 'http', () => true, (h) => httpFailed(h.domain, h.ip, 'generic_timeout_error', 'connect')),
      expect: { reason: [/https request on port 443 failed with generic_timeout_error at connect/] },
    },
  },
];
