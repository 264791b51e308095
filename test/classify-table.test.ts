// Table of evidence → verdict for the classifier: every verdict, the precedence rules and the edge cases.
import { describe, expect, it } from 'vitest';
import { applyCanaries } from '../probe/classify/canary.js';
import { classify } from '../probe/classify/classify.js';
import type { Evidence } from '../contract/evidence.js';
import type { Target } from '../contract/target.js';
import { VERDICTS, type Decision, type Layer, type Verdict } from '../contract/verdict.js';
import {
  DOH,
  SYSTEM,
  UDP,
  UDP2,
  addressesOf,
  answer,
  cert,
  change,
  deepFreeze,
  dnsFailure,
  emptyEvidence,
  healthy,
  httpFailed,
  late,
  target,
  tcp,
  tls,
  tlsBlocked,
  tlsUntrusted,
  withDns,
} from './classify-builders.js';

const youtube = target({ id: 'youtube', category: 'video', domains: ['www.youtube.com', 'i.ytimg.com'] });
const facebook = target({ id: 'facebook', domains: ['www.facebook.com'] });
const telegram = target({
  id: 'telegram',
  category: 'messenger',
  domains: ['web.telegram.org'],
  endpoints: [
    { ip: '149.154.167.51', ports: [443] },
    { ip: '149.154.175.50', ports: [443] },
  ],
});
const news = target({ id: 'rferl', category: 'news', domains: ['www.rferl.org'], ports: [80], tls_ports: [], http: { path: '/', status: [200, 301, 302] } });
const noTls = target({ id: 'plain', category: 'news', domains: ['news.example.org'], ports: [80], tls_ports: [], http: null });

const FB = 'www.facebook.com';
const [FB4, FB6] = addressesOf(FB) as [string, string];

const QAZNET_ROOT_FP = '00:30:9C:73:6D:D6:61:DA:6F:1E:B2:41:73:AA:84:99:44:C1:68:A4:3A:15:BF:FD:19:2E:EC:FD:B6:F8:DB:D2';

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
}

/** Facebook with every TLS handshake replaced. */
const fbTls = (to: Parameters<typeof change<'tls'>>[3]): Evidence => change(healthy(facebook), 'tls', () => true, to);
const fbTcp = (to: Parameters<typeof change<'tcp'>>[3]): Evidence => change(healthy(facebook), 'tcp', () => true, to);

const cases: Case[] = [
  // ok
  {
    name: 'ok: every domain resolves, connects, validates and answers 200',
    target: youtube,
    evidence: healthy(youtube),
    verdict: 'ok',
    layer: null,
    subjects: ['www.youtube.com', 'i.ytimg.com'],
    reason: [/dns → tcp → tls → http/],
  },
  {
    name: 'ok: mixed TCP results with one success per domain',
    target: facebook,
    evidence: change(healthy(facebook), 'tcp', (t) => t.ip === FB6, (t) => ({ ...t, failure: 'connection_reset', rtt_ms: null })),
    verdict: 'ok',
  },
  {
    name: 'ok: one address resets the target SNI, the other validates (mixed TLS)',
    target: facebook,
    evidence: change(healthy(facebook), 'tls', (t) => t.ip === FB4, (t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok')),
    verdict: 'ok',
  },
  {
    name: 'ok: the system answer differs from DoH (CDN) but completes a TLS handshake valid for the domain',
    target: facebook,
    evidence: (() => {
      const e = withDns(healthy(facebook), FB, answer(FB, SYSTEM, ['157.240.9.35']), answer(FB, DOH, [FB4]));
      return { ...e, tcp: [...e.tcp, tcp(FB, '157.240.9.35', 443)], tls: [...e.tls, tls(FB, '157.240.9.35', 443)] };
    })(),
    verdict: 'ok',
  },
  {
    name: 'ok: fixed endpoints are judged over TCP only (no TLS is made with them)',
    target: telegram,
    evidence: healthy(telegram),
    verdict: 'ok',
    subjects: ['web.telegram.org', '149.154.167.51:443', '149.154.175.50:443'],
  },

  // DNS
  {
    name: 'dns.nxdomain: system NXDOMAIN while DoH answers',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), answer(FB, DOH, [FB4])),
    verdict: 'dns.nxdomain',
    layer: 'dns',
    confidence: 0.9,
    subjects: [FB],
    reason: [/www\.facebook\.com A via system: NXDOMAIN while doh:https:\/\/1\.1\.1\.1\/dns-query answered/],
  },
  {
    name: 'dns.nxdomain: without DoH, a plain resolver that answers is the control (lower confidence)',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), answer(FB, UDP, [FB4])),
    verdict: 'dns.nxdomain',
    confidence: 0.7,
    reason: [/via system: NXDOMAIN while udp:8\.8\.8\.8:53 answered/],
  },
  {
    name: 'dns.nxdomain: every resolver NXDOMAIN here, the control resolves',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), dnsFailure(FB, DOH, 'dns_nxdomain_error')),
    control: healthy(facebook),
    verdict: 'dns.nxdomain',
    confidence: 0.8,
    reason: [/control resolved/],
  },
  {
    name: 'down: NXDOMAIN everywhere and at the control too',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), dnsFailure(FB, DOH, 'dns_nxdomain_error')),
    control: withDns(emptyEvidence(), FB, dnsFailure(FB, DOH, 'dns_nxdomain_error')),
    verdict: 'down',
    layer: 'dns',
    confidence: 0.8,
    reason: [/every resolver, DoH included \(system, doh:https:\/\/1\.1\.1\.1\/dns-query\), answered NXDOMAIN; the control saw the same \(NXDOMAIN\)/],
  },
  {
    name: 'inconclusive: NXDOMAIN from every resolver, DoH included, and no control',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), dnsFailure(FB, DOH, 'dns_nxdomain_error')),
    verdict: 'inconclusive',
    layer: null,
    reason: [/DoH included/],
  },
  {
    name: 'dns.bogon: the system resolver answers a private address',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, answer(FB, SYSTEM, ['10.10.34.34'], { bogons: ['10.10.34.34'] }), answer(FB, DOH, [FB4])),
    verdict: 'dns.bogon',
    confidence: 0.95,
    reason: [/bogon range \(10\.10\.34\.34\)/],
  },
  {
    name: 'dns.bogon: the failure form (dns_bogon_error) counts too',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, answer(FB, SYSTEM, ['127.0.0.2'], { failure: 'dns_bogon_error' }), answer(FB, DOH, [FB4])),
    verdict: 'dns.bogon',
  },
  {
    name: 'dns.injected: one UDP query, two different answers; outranks the bogon it carried',
    target: facebook,
    evidence: withDns(
      healthy(facebook),
      FB,
      answer(FB, UDP, ['10.10.34.34'], { bogons: ['10.10.34.34'], late: [late([FB4], 38)] }),
      answer(FB, SYSTEM, [FB4]),
      answer(FB, DOH, [FB4]),
    ),
    verdict: 'dns.injected',
    layer: 'dns',
    confidence: 0.95,
    reason: [/A via udp:8\.8\.8\.8:53: two different answers to one query \(10\.10\.34\.34, then 31\.13\.\d+\.\d+ 38 ms after sending\)/],
  },
  {
    name: 'ok: a duplicate late answer identical to the first is not injection',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, answer(FB, UDP, [FB4], { late: [late([FB4], 5)] }), answer(FB, DOH, [FB4])),
    verdict: 'ok',
  },
  {
    name: 'dns.injected: a different rcode in the late answer counts',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, answer(FB, UDP, [FB4], { late: [late([], 60, 'NXDOMAIN')] }), answer(FB, DOH, [FB4])),
    verdict: 'dns.injected',
  },
  {
    name: 'dns.inconsistent: the system address never validates while the DoH address does',
    target: facebook,
    evidence: (() => {
      const e = withDns(healthy(facebook), FB, answer(FB, SYSTEM, ['95.56.243.92']), answer(FB, DOH, [FB4]));
      return {
        ...e,
        tcp: [...e.tcp, tcp(FB, '95.56.243.92', 443)],
        tls: [...e.tls, tlsBlocked(FB, '95.56.243.92', 443, 'generic_timeout_error', 'generic_timeout_error')],
      };
    })(),
    verdict: 'dns.inconsistent',
    confidence: 0.8,
    reason: [/via system: answered 95\.56\.243\.92 where doh:https:\/\/1\.1\.1\.1\/dns-query answered/, /valid for www\.facebook\.com while 31\.13/],
  },
  {
    name: 'dns.inconsistent: judged on TCP connects when the target has no TLS',
    target: noTls,
    evidence: (() => {
      const d = 'news.example.org';
      const [v4] = addressesOf(d) as [string];
      const e = withDns(healthy(noTls), d, answer(d, SYSTEM, ['95.56.243.92']), answer(d, DOH, [v4]));
      return { ...e, tcp: [...e.tcp, tcp(d, '95.56.243.92', 80, 'generic_timeout_error')] };
    })(),
    verdict: 'dns.inconsistent',
    confidence: 0.6,
  },
  {
    name: 'dns.timeout: every resolver timed out',
    target: facebook,
    evidence: withDns(
      emptyEvidence(),
      FB,
      dnsFailure(FB, SYSTEM, 'generic_timeout_error'),
      dnsFailure(FB, UDP, 'generic_timeout_error'),
      dnsFailure(FB, DOH, 'generic_timeout_error'),
    ),
    verdict: 'dns.timeout',
    layer: 'dns',
    confidence: 0.8,
    reason: [/every DNS query timed out \(system, udp:8\.8\.8\.8:53, doh:https:\/\/1\.1\.1\.1\/dns-query\)/],
  },
  {
    name: 'ok: the system resolver timed out but DoH answered and everything validates (not dns.timeout)',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'generic_timeout_error'), answer(FB, DOH, [FB4]), answer(FB, DOH, [FB6])),
    verdict: 'ok',
  },
  {
    name: 'inconclusive: SERVFAIL/REFUSED everywhere without control',
    target: facebook,
    evidence: withDns(
      emptyEvidence(),
      FB,
      dnsFailure(FB, SYSTEM, 'dns_servfail_error'),
      dnsFailure(FB, UDP, 'dns_refused_error'),
      dnsFailure(FB, DOH, 'dns_servfail_error'),
    ),
    verdict: 'inconclusive',
    layer: null,
    subjects: [FB],
    reason: [/no resolver gave a usable answer \(system: dns_servfail_error, udp:8\.8\.8\.8:53: dns_refused_error/],
  },
  {
    name: 'dns.inconsistent: the ISP resolver refuses a name that DoH resolves and that validates',
    target: facebook,
    evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_servfail_error'), answer(FB, DOH, [FB4]), answer(FB, DOH, [FB6])),
    verdict: 'dns.inconsistent',
    confidence: 0.6,
    reason: [/via system: dns_servfail_error while/],
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

  // TCP
  {
    name: 'tcp.reset: every address reset',
    target: facebook,
    evidence: fbTcp((t) => ({ ...t, failure: 'connection_reset', operation: 'connect', rtt_ms: null })),
    verdict: 'tcp.reset',
    layer: 'tcp',
    confidence: 0.9,
    reason: [/www\.facebook\.com: TCP connect to port 443 was reset \(connection_reset\) at every address/],
  },
  {
    name: 'tcp.timeout: every address timed out',
    target: facebook,
    evidence: fbTcp((t) => ({ ...t, failure: 'generic_timeout_error', rtt_ms: null })),
    verdict: 'tcp.timeout',
    confidence: 0.8,
  },
  {
    name: 'tcp.refused: every address refused',
    target: facebook,
    evidence: fbTcp((t) => ({ ...t, failure: 'connection_refused', rtt_ms: null })),
    verdict: 'tcp.refused',
    confidence: 0.7,
  },
  {
    name: 'tcp.timeout: IPv6 without a route is left out, IPv4 timed out',
    target: facebook,
    evidence: fbTcp((t) => ({ ...t, failure: t.ip === FB6 ? 'network_unreachable' : 'generic_timeout_error', rtt_ms: null })),
    verdict: 'tcp.timeout',
    confidence: 0.8,
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
    name: 'tcp.timeout: fixed endpoints are judged one by one',
    target: telegram,
    evidence: change(healthy(telegram), 'tcp', (t) => t.ip === '149.154.175.50', (t) => ({ ...t, failure: 'generic_timeout_error' })),
    verdict: 'tcp.timeout',
    subjects: ['149.154.175.50:443'],
    reason: [/^149\.154\.175\.50:443: TCP connect timed out \(generic_timeout_error\)$/],
  },
  {
    name: 'down: the control times out on the same endpoint',
    target: telegram,
    evidence: change(healthy(telegram), 'tcp', (t) => t.ip === '149.154.175.50', (t) => ({ ...t, failure: 'generic_timeout_error' })),
    control: change(healthy(telegram), 'tcp', (t) => t.ip === '149.154.175.50', (t) => ({ ...t, failure: 'generic_timeout_error' })),
    verdict: 'down',
    layer: 'tcp',
    subjects: ['149.154.175.50:443'],
  },
  {
    name: 'tcp.timeout stays when the control connects',
    target: telegram,
    evidence: change(healthy(telegram), 'tcp', (t) => t.ip === '149.154.175.50', (t) => ({ ...t, failure: 'generic_timeout_error' })),
    control: healthy(telegram),
    verdict: 'tcp.timeout',
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

  // TLS
  {
    name: 'tls.reset 0.95: target SNI reset, neutral SNI to the same address completed (SNI filtering)',
    target: facebook,
    evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok')),
    verdict: 'tls.reset',
    layer: 'tls',
    confidence: 0.95,
    reason: [/TLS handshake with SNI www\.facebook\.com on port 443 was reset \(connection_reset\) .* while a neutral SNI \(www\.example\.com\) to the same address completed: SNI filtering/],
  },
  {
    name: 'tls.reset 0.6: the neutral SNI was reset too (blocking by address at TLS time)',
    target: facebook,
    evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'connection_reset')),
    verdict: 'tls.reset',
    confidence: 0.6,
    reason: [/a neutral SNI to the same address failed too \(connection_reset\): blocking by address/],
  },
  {
    name: 'tls.reset 0.75: no neutral retry recorded',
    target: facebook,
    evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', null)),
    verdict: 'tls.reset',
    confidence: 0.75,
  },
  {
    name: 'tls.timeout 0.95: the target SNI times out after ClientHello, the neutral SNI completes',
    target: facebook,
    evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'generic_timeout_error', 'ok')),
    verdict: 'tls.timeout',
    confidence: 0.95,
  },
  {
    name: 'tls.eof: the connection is closed during the handshake, the neutral SNI completes',
    target: facebook,
    evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'eof_error', 'ok')),
    verdict: 'tls.eof',
    confidence: 0.95,
  },
  {
    name: 'tls.interception 0.99 by subject: leaf issued by the 2019 "Security Certificate" intermediate',
    target: facebook,
    evidence: fbTls((t) => tlsUntrusted(FB, t.ip, t.port, [cert('CN=*.facebook.com', 'C=KZ, CN=Security Certificate')])),
    verdict: 'tls.interception',
    layer: 'tls',
    confidence: 0.99,
    reason: [/known interception CA "Security Certificate \(2019 intermediate under Qaznet Trust Network\)" \(matched by subject/],
  },
  {
    name: 'tls.interception 0.99 by fingerprint: the Qaznet root itself is in the chain',
    target: facebook,
    evidence: fbTls((t) =>
      tlsUntrusted(FB, t.ip, t.port, [
        cert('CN=*.facebook.com', 'C=KZ\nCN=Some Renamed Intermediate'),
        cert('C=KZ\nCN=Some Renamed Intermediate', 'C=KZ\nCN=Renamed Root'),
        cert('C=KZ\nCN=Renamed Root', 'C=KZ\nCN=Renamed Root', { fingerprint256: QAZNET_ROOT_FP }),
      ]),
    ),
    verdict: 'tls.interception',
    confidence: 0.99,
    reason: [/"Qaznet Trust Network \(2019 root\)" \(matched by fingerprint/],
  },
  {
    name: 'tls.interception: the failure form (ssl_unknown_authority) with the 2020 ISCA name',
    target: facebook,
    evidence: fbTls((t) =>
      tlsUntrusted(FB, t.ip, t.port, [cert('CN=*.facebook.com', 'C=KZ,O=ISCA,CN=Information Security Certification Authority')], 'failure'),
    ),
    verdict: 'tls.interception',
    confidence: 0.99,
    reason: [/ISCA, 2020 root/],
  },
  {
    name: 'tls.interception 0.99 even when the machine trusts the interception root (installed as told)',
    target: facebook,
    evidence: fbTls((t) => tls(FB, t.ip, t.port, { chain: [cert('CN=*.facebook.com', 'C=KZ, CN=Security Certificate')], trusted: true })),
    verdict: 'tls.interception',
    confidence: 0.99,
  },
  {
    name: 'tls.interception 0.6: an unknown untrusted CA, the reason names the issuer',
    target: facebook,
    evidence: fbTls((t) =>
      tlsUntrusted(FB, t.ip, t.port, [cert('CN=*.facebook.com', 'C=KZ, O=Example Telecom, CN=Corporate Proxy CA')], 'flags', 'SELF_SIGNED_CERT_IN_CHAIN'),
    ),
    verdict: 'tls.interception',
    confidence: 0.6,
    reason: [/does not validate for www\.facebook\.com \(SELF_SIGNED_CERT_IN_CHAIN\), issued by "Corporate Proxy CA" \(O=Example Telecom, C=KZ\)/],
  },
  {
    name: 'tls.interception 0.6: a trusted chain for the wrong name',
    target: facebook,
    evidence: fbTls((t) => tls(FB, t.ip, t.port, { hostname_ok: false, chain: [cert('CN=iqala.kz', "C=US, O=Let's Encrypt, CN=R11")] })),
    verdict: 'tls.interception',
    confidence: 0.6,
    reason: [/certificate not valid for the name/, /"R11"/],
  },
  {
    name: "down: the control gets the same untrusted chain (the service's own certificate is broken)",
    target: facebook,
    evidence: fbTls((t) => tlsUntrusted(FB, t.ip, t.port, [cert('CN=www.facebook.com', 'CN=www.facebook.com')], 'failure', 'CERT_HAS_EXPIRED')),
    control: fbTls((t) => tlsUntrusted(FB, t.ip, t.port, [cert('CN=www.facebook.com', 'CN=www.facebook.com')], 'failure', 'CERT_HAS_EXPIRED')),
    verdict: 'down',
    layer: 'tls',
  },
  {
    name: 'inconclusive, not tls.timeout: the TLS step could not reconnect (failure at operation connect)',
    target: facebook,
    evidence: fbTls((t) => tls(t.domain, t.ip, t.port, { failure: 'generic_timeout_error', operation: 'connect', chain: [], trusted: null, hostname_ok: null })),
    verdict: 'inconclusive',
    reason: [/failed with generic_timeout_error at connect/],
  },
  {
    name: 'inconclusive: a handshake failure outside the blocking patterns (ssl_failed_handshake)',
    target: facebook,
    evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'ssl_failed_handshake', null)),
    verdict: 'inconclusive',
  },

  // HTTP
  {
    name: 'http.blockpage: a Kazakh notice instead of the site',
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
    verdict: 'http.blockpage',
    layer: 'http',
    confidence: 0.95,
    reason: [/a block page: .*\[kz\.law_notice_ru\]/],
  },
  {
    name: 'http.blockpage: a redirect to an ISP block host',
    target: news,
    evidence: change(healthy(news), 'http', () => true, (h) => ({
      ...h,
      status: 302,
      headers: { location: 'http://blocked.isp-example.kz/?url=www.rferl.org' },
      body_length: 0,
      body_head: '',
      title: null,
    })),
    verdict: 'http.blockpage',
    reason: [/redirecting to http:\/\/blocked\.isp-example\.kz/],
  },
  {
    name: 'http.diff 0.5: an unexpected status',
    target: facebook,
    evidence: change(healthy(facebook), 'http', () => true, (h) => ({ ...h, status: 403, title: 'Forbidden' })),
    verdict: 'http.diff',
    layer: 'http',
    confidence: 0.5,
    reason: [/answered HTTP 403 \("Forbidden"\) where 200\/301\/302 was expected/],
  },
  {
    name: 'ok: the control gets the same status and title (the expectation is out of date)',
    target: facebook,
    evidence: change(healthy(facebook), 'http', () => true, (h) => ({ ...h, status: 403, title: 'Forbidden' })),
    control: change(healthy(facebook), 'http', () => true, (h) => ({ ...h, status: 403, title: 'Forbidden' })),
    verdict: 'ok',
  },
  {
    name: 'http.diff 0.4: reset after a good TLS handshake',
    target: facebook,
    evidence: change(healthy(facebook), 'http', () => true, (h) => httpFailed(h.domain, h.ip, 'connection_reset')),
    verdict: 'http.diff',
    confidence: 0.4,
    reason: [/failed after a good handshake \(connection_reset during http_request\)/],
  },
  {
    name: 'inconclusive, not http.diff: the HTTP step could not reconnect',
    target: facebook,
    evidence: change(healthy(facebook), 'http', () => true, (h) => httpFailed(h.domain, h.ip, 'generic_timeout_error', 'connect')),
    verdict: 'inconclusive',
    reason: [/HTTP request failed with generic_timeout_error at connect/],
  },
  {
    name: 'down: HTTP fails the same way at the control',
    target: facebook,
    evidence: change(healthy(facebook), 'http', () => true, (h) => httpFailed(h.domain, h.ip, 'http_invalid_response')),
    control: change(healthy(facebook), 'http', () => true, (h) => httpFailed(h.domain, h.ip, 'http_invalid_response')),
    verdict: 'down',
    layer: 'http',
  },

  // inconclusive
  {
    name: 'inconclusive: no evidence at all',
    target: facebook,
    evidence: emptyEvidence(),
    verdict: 'inconclusive',
    layer: null,
    subjects: [],
  },
  {
    name: 'inconclusive: unknown_failure at TCP everywhere',
    target: facebook,
    evidence: fbTcp((t) => ({ ...t, failure: 'unknown_failure' })),
    verdict: 'inconclusive',
    reason: [/failed with unknown_failure/],
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
    name: 'plain resolvers disagree without DoH: the one whose address does not validate is inconsistent',
    target: facebook,
    evidence: (() => {
      const e = withDns(healthy(facebook), FB, answer(FB, SYSTEM, [FB4]), answer(FB, UDP2, ['95.56.243.92']));
      return {
        ...e,
        tcp: [...e.tcp, tcp(FB, '95.56.243.92', 443)],
        tls: [...e.tls, tlsUntrusted(FB, '95.56.243.92', 443, [cert('CN=stub.example.kz', 'CN=stub.example.kz')])],
      };
    })(),
    verdict: 'dns.inconsistent',
    reason: [/via udp:77\.88\.8\.8:53: answered 95\.56\.243\.92 where the other resolvers answered/],
  },
];

describe('classify: evidence → verdict table', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const evidence = deepFreeze(structuredClone(c.evidence));
    const control = c.control === undefined ? undefined : deepFreeze(structuredClone(c.control));
    const d = classify(deepFreeze(structuredClone(c.target)), evidence, control === undefined ? {} : { control });
    expect(d.verdict).toBe(c.verdict);
    if (c.layer !== undefined) expect(d.layer).toBe(c.layer);
    if (c.confidence !== undefined) expect(d.confidence).toBeCloseTo(c.confidence, 5);
    if (c.subjects !== undefined) expect(d.subjects).toEqual(c.subjects);
    for (const re of c.reason ?? []) expect(d.reason).toMatch(re);
    expect(d.confidence).toBeGreaterThan(0);
    expect(d.confidence).toBeLessThanOrEqual(1);
    expect(d.reason.length).toBeGreaterThan(10);
    if (d.verdict === 'ok' || d.verdict === 'inconclusive') expect(d.layer).toBeNull();
    else expect(d.layer).not.toBeNull();
  });
});

// --- offline: run-level canary rule ----------------------------------------------------------------

const domesticCanary = target({ id: 'canary-kz', category: 'canary', canary: 'domestic', domains: ['www.gov.kz'], http: null });
const internationalCanary = target({ id: 'canary-intl', category: 'canary', canary: 'international', domains: ['www.wikipedia.org'], http: null });

function run(t: Target, e: Evidence): { target: Target; decision: Decision; evidence: Evidence } {
  return { target: t, decision: classify(t, e), evidence: e };
}

const dead = (t: Target): Evidence =>
  withDns(emptyEvidence(), t.domains[0] as string, dnsFailure(t.domains[0] as string, SYSTEM, 'generic_timeout_error'), dnsFailure(t.domains[0] as string, DOH, 'generic_timeout_error'));
const tcpDead = (t: Target): Evidence => change(healthy(t), 'tcp', () => true, (o) => ({ ...o, failure: 'generic_timeout_error' }));

interface CanaryCase {
  name: string;
  runs: Array<{ target: Target; decision: Decision; evidence: Evidence }>;
  verdicts: Verdict[];
  reason?: RegExp[];
}

const canaryCases: CanaryCase[] = [
  {
    name: 'every canary failed: every verdict becomes offline, the reason keeps the finding',
    runs: [run(facebook, fbTcp((t) => ({ ...t, failure: 'generic_timeout_error' }))), run(domesticCanary, dead(domesticCanary)), run(internationalCanary, tcpDead(internationalCanary))],
    verdicts: ['offline', 'offline', 'offline'],
    reason: [/every canary failed \(canary-kz \(domestic\): dns generic_timeout_error; canary-intl \(international\): tcp generic_timeout_error\)/, /own finding was tcp\.timeout|own finding was dns\.timeout/],
  },
  {
    name: 'every international canary failed while the domestic one answered: offline',
    runs: [run(facebook, healthy(facebook)), run(domesticCanary, healthy(domesticCanary)), run(internationalCanary, tcpDead(internationalCanary))],
    verdicts: ['offline', 'offline', 'offline'],
    reason: [/every international canary failed while a domestic one answered/],
  },
  {
    name: 'canaries fine: nothing changes',
    runs: [run(facebook, fbTcp((t) => ({ ...t, failure: 'connection_reset' }))), run(domesticCanary, healthy(domesticCanary)), run(internationalCanary, healthy(internationalCanary))],
    verdicts: ['tcp.reset', 'ok', 'ok'],
  },
  {
    name: 'only the domestic canary failed: nothing changes',
    runs: [run(facebook, healthy(facebook)), run(domesticCanary, tcpDead(domesticCanary)), run(internationalCanary, healthy(internationalCanary))],
    verdicts: ['ok', 'tcp.timeout', 'ok'],
  },
  {
    name: 'no canary in the run: nothing changes',
    runs: [run(facebook, fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok'))), run(youtube, healthy(youtube))],
    verdicts: ['tls.reset', 'ok'],
  },
];

describe('applyCanaries: offline', () => {
  it.each(canaryCases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const out = applyCanaries(deepFreeze(c.runs));
    expect(out.map((d) => d.verdict)).toEqual(c.verdicts);
    out.forEach((d, i) => {
      const original = c.runs[i]?.decision as Decision;
      if (d.verdict === 'offline') {
        expect(d.layer).toBeNull();
        expect(d.reason).toContain(original.reason);
        expect(d.subjects).toEqual(original.subjects);
        for (const re of c.reason ?? []) expect(d.reason).toMatch(re);
      } else {
        expect(d).toEqual(original);
      }
    });
  });
});

describe('the table covers the vocabulary', () => {
  it('every verdict in VERDICTS appears in a case', () => {
    const covered = new Set<Verdict>([...cases.map((c) => c.verdict), ...canaryCases.flatMap((c) => c.verdicts)]);
    expect([...VERDICTS].filter((v) => !covered.has(v))).toEqual([]);
  });
});
