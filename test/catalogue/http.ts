// HTTP censorship cases: block pages, answers that differ from what the real site sends, and throttled pages.
import { expect } from 'vitest';
import { change, healthy, httpFailed } from '../classify-builders.js';
import { labTarget } from '../lab/topology.js';
import type { CatalogueCase } from './case.js';
import { measured } from './lab-run.js';
import { facebook, news } from './targets.js';

const ip = (id: string) => labTarget(id).ip;

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
    name: 'reset-after-handshake',
    verdict: 'http.diff',
    evidence: {
      about: 'reset after a good TLS handshake: 0.4',
      target: facebook,
      evidence: change(healthy(facebook), 'http', () => true, (h) => httpFailed(h.domain, h.ip, 'connection_reset')),
      expect: { confidence: 0.4, reason: [/failed after a good handshake \(connection_reset during http_request\)/] },
    },
  },
  {
    name: 'throttling',
    verdict: 'http.diff',
    lab: {
      summary: "Twitter's connections shaped to 32 kbit/s after their first 8 KiB: handshakes pass, the answer does not arrive in time",
      mechanism: `tc htb class of 32kbit on the censor's client link; iptables -t mangle POSTROUTING -s ${ip('twitter')} -m connbytes --connbytes 8192: --connbytes-dir reply -j CLASSIFY`,
      apply: (c) => c.throttle([ip('twitter')], '32kbit', 8192),
      blocked: { twitter: { verdict: 'http.diff', layer: 'http' } },
      check(r) {
        const m = measured(r, 'twitter');
        // Handshakes are small enough to pass the shaper within the step timeout...
        for (const t of m.evidence.tls) {
          expect(t.failure, t.sni ?? '').toBeNull();
          expect(t.trusted).toBe(true);
        }
        // ...the 256 KiB page is not: the request times out after a good handshake.
        expect(m.evidence.http.length).toBeGreaterThan(0);
        for (const h of m.evidence.http) {
          expect(h.failure, h.url).toBe('generic_timeout_error');
          expect(['http_request', 'http_body']).toContain(h.operation);
        }
        // Only Twitter is shaped (its page arrives in the clean scenario); other targets download as usual.
        for (const h of measured(r, 'youtube').evidence.http) expect(h.failure).toBeNull();
      },
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
      expect: { reason: [/HTTP request failed with generic_timeout_error at connect/] },
    },
  },
];
