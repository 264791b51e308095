// DNS censorship cases: what the ISP's resolver or an on-path injector does, and the verdict the probe must reach.
import { expect } from 'vitest';
import { DOH, SYSTEM, SYSTEM_DIRECT, UDP, UDP2, addressesOf, answer, cert, dnsFailure, emptyEvidence, healthy, late, tcp, tls, tlsBlocked, tlsUntrusted, withDns } from '../classify-builders.js';
import { BOGON_ADDRESS, HONEST_RESOLVER_DELAY_MS, INJECTED_ADDRESS, labTarget } from '../lab/topology.js';
import { REAL } from '../loopback/scenario.js';
import type { CatalogueCase } from './case.js';
import { LAB_HONEST_RESOLVER, measured } from './lab-run.js';
import { FB, FB4, FB6, facebook, noTls } from './targets.js';

export const dnsCases: CatalogueCase[] = [
  // dns.nxdomain
  {
    name: 'dns-nxdomain',
    verdict: 'dns.nxdomain',
    evidence: { fixture: 'vk-dns-nxdomain' },
    loopback: {
      about: 'ISP resolver answers NXDOMAIN for an existing domain',
      target: { id: 'vk', domains: ['vk.com'] },
      censor: { ispDns: { 'vk.com': { kind: 'nxdomain' } } },
      expect: {
        layer: 'dns',
        observations: [
          { layer: 'dns', domain: 'vk.com', resolver: 'system', qtype: 'A', has: { failure: 'dns_nxdomain_error' } },
          { layer: 'dns', domain: 'vk.com', resolver: 'udp', qtype: 'A', has: { failure: null } },
        ],
      },
    },
    lab: {
      summary: 'the ISP resolver says YouTube does not exist',
      mechanism: 'dnsmasq on the censor: address=/youtube.com/ (NXDOMAIN for the name and its subdomains)',
      apply: (c) => c.resolver(['/youtube.com/']),
      blocked: { youtube: { verdict: 'dns.nxdomain', layer: 'dns' } },
      check(r) {
        for (const d of measured(r, 'youtube').evidence.dns) {
          const system = d.queries.find((q) => q.resolver === 'system');
          const honest = d.queries.find((q) => q.resolver === LAB_HONEST_RESOLVER);
          expect(system?.failure, d.domain).toBe('dns_nxdomain_error');
          expect(honest?.addresses, d.domain).toEqual([labTarget('youtube').ip]);
        }
      },
    },
  },
  {
    name: 'nxdomain-doh-answers',
    verdict: 'dns.nxdomain',
    evidence: {
      about: 'system NXDOMAIN while DoH answers',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), answer(FB, DOH, [FB4])),
      expect: {
        layer: 'dns',
        confidence: 0.9,
        subjects: [FB],
        reason: [/www\.facebook\.com A via system: NXDOMAIN while doh:https:\/\/1\.1\.1\.1\/dns-query answered/],
      },
    },
  },
  {
    name: 'nxdomain-plain-resolver-answers',
    verdict: 'dns.nxdomain',
    evidence: {
      about: 'without DoH, a plain resolver that answers is the control (lower confidence)',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), answer(FB, UDP, [FB4])),
      expect: { confidence: 0.7, reason: [/via system: NXDOMAIN while udp:8\.8\.8\.8:53 answered/] },
    },
  },
  {
    name: 'nxdomain-control-resolves',
    verdict: 'dns.nxdomain',
    control: {
      about: 'every resolver NXDOMAIN here, the control resolves',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), dnsFailure(FB, DOH, 'dns_nxdomain_error')),
      control: healthy(facebook),
      expect: { confidence: 0.8, reason: [/control resolved/] },
    },
  },
  {
    name: 'nxdomain-everywhere-down',
    verdict: 'down',
    control: {
      about: 'NXDOMAIN everywhere and at the control too',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), dnsFailure(FB, DOH, 'dns_nxdomain_error')),
      control: withDns(emptyEvidence(), FB, dnsFailure(FB, DOH, 'dns_nxdomain_error')),
      expect: {
        layer: 'dns',
        confidence: 0.8,
        reason: [/every resolver, DoH included \(system, doh:https:\/\/1\.1\.1\.1\/dns-query\), answered NXDOMAIN; the control saw the same \(NXDOMAIN\)/],
      },
    },
  },
  {
    name: 'nxdomain-everywhere-no-control',
    verdict: 'inconclusive',
    evidence: {
      about: 'NXDOMAIN from every resolver, DoH included, and no control',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_nxdomain_error'), dnsFailure(FB, DOH, 'dns_nxdomain_error')),
      expect: { layer: null, reason: [/DoH included/] },
    },
  },

  // dns.bogon
  {
    name: 'dns-bogon',
    verdict: 'dns.bogon',
    evidence: {
      about: 'the system resolver answers a private address',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, answer(FB, SYSTEM, ['10.10.34.34'], { bogons: ['10.10.34.34'] }), answer(FB, DOH, [FB4])),
      expect: { confidence: 0.95, reason: [/bogon range \(10\.10\.34\.34\)/] },
    },
    loopback: {
      about: 'ISP resolver answers a private (bogon) address',
      target: { id: 'facebook', domains: ['www.facebook.com'] },
      censor: { ispDns: { 'www.facebook.com': { kind: 'answer', addresses: ['10.10.34.36'] } } },
      expect: {
        layer: 'dns',
        observations: [
          {
            layer: 'dns',
            domain: 'www.facebook.com',
            resolver: 'system',
            qtype: 'A',
            has: { failure: 'dns_bogon_error', bogons: ['10.10.34.36'] },
          },
        ],
      },
    },
    lab: {
      summary: 'the ISP resolver answers Facebook with a private address',
      mechanism: `dnsmasq on the censor: address=/facebook.com/${BOGON_ADDRESS}`,
      apply: (c) => c.resolver([`/facebook.com/${BOGON_ADDRESS}`]),
      blocked: { facebook: { verdict: 'dns.bogon', layer: 'dns' } },
      check(r) {
        const m = measured(r, 'facebook');
        for (const d of m.evidence.dns) {
          expect(d.queries.find((q) => q.resolver === 'system')?.addresses, d.domain).toEqual([BOGON_ADDRESS]);
        }
        // The bogon is never dialled; the honest answer is, and works.
        expect(m.evidence.tcp.map((t) => t.ip)).not.toContain(BOGON_ADDRESS);
        expect(m.evidence.tcp.some((t) => t.ip === labTarget('facebook').ip && t.failure === null)).toBe(true);
      },
    },
  },
  {
    name: 'bogon-failure-form',
    verdict: 'dns.bogon',
    evidence: {
      about: 'the failure form (dns_bogon_error) counts too',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, answer(FB, SYSTEM, ['127.0.0.2'], { failure: 'dns_bogon_error' }), answer(FB, DOH, [FB4])),
    },
  },

  // dns.injected
  {
    name: 'dns-injection',
    verdict: 'dns.injected',
    evidence: { fixture: 'injected-race' },
    loopback: {
      about: 'on-path injector races a wrong answer ahead of the real one, even to the honest resolver',
      target: { id: 'instagram', domains: ['www.instagram.com'] },
      censor: {
        pathDns: {
          'www.instagram.com': { kind: 'race', injected: ['88.204.157.10'], real: [REAL], delayMs: 30 },
        },
      },
      expect: {
        layer: 'dns',
        observations: [
          {
            layer: 'dns',
            domain: 'www.instagram.com',
            resolver: 'udp',
            qtype: 'A',
            has: { addresses: ['88.204.157.10'], late: [{ addresses: [expect.stringMatching(/^45\.60\./)] }] },
          },
        ],
      },
    },
    lab: {
      summary: 'an on-path injector races a forged answer for Twitter ahead of every resolver, the honest one included',
      mechanism:
        'iptables -t mangle ... -p udp --dport 53 -j TEE copies each query to the injector box, which answers ' +
        `from the resolver's address with ${INJECTED_ADDRESS}; the real answer arrives later`,
      apply: (c) => c.injectDns({ 'twitter.com': INJECTED_ADDRESS, 'x.com': INJECTED_ADDRESS }),
      blocked: { twitter: { verdict: 'dns.injected', layer: 'dns' } },
      check(r) {
        const m = measured(r, 'twitter');
        for (const d of m.evidence.dns) {
          const honest = d.queries.find((q) => q.resolver === LAB_HONEST_RESOLVER);
          // One query, two answers: the forged one first, the real one later from the same address.
          expect(honest?.addresses, d.domain).toEqual([INJECTED_ADDRESS]);
          expect(honest?.late.map((l) => l.addresses), d.domain).toEqual([[labTarget('twitter').ip]]);
          expect(honest?.late[0]?.after_ms ?? 0, d.domain).toBeGreaterThanOrEqual(HONEST_RESOLVER_DELAY_MS * 0.9);
          // The ISP resolver forwarded the query and believed the injector too.
          expect(d.queries.find((q) => q.resolver === 'system')?.addresses, d.domain).toEqual([INJECTED_ADDRESS]);
        }
        // Names that are not poisoned get one answer only.
        for (const d of measured(r, 'youtube').evidence.dns) for (const q of d.queries) expect(q.late, d.domain).toEqual([]);
      },
    },
  },
  {
    name: 'injected-outranks-bogon',
    verdict: 'dns.injected',
    evidence: {
      about: 'one UDP query, two different answers; outranks the bogon it carried',
      target: facebook,
      evidence: withDns(
        healthy(facebook),
        FB,
        answer(FB, UDP, ['10.10.34.34'], { bogons: ['10.10.34.34'], late: [late([FB4], 38)] }),
        answer(FB, SYSTEM, [FB4]),
        answer(FB, DOH, [FB4]),
      ),
      expect: {
        layer: 'dns',
        confidence: 0.95,
        reason: [/A via udp:8\.8\.8\.8:53: two different answers to one query \(10\.10\.34\.34, then 31\.13\.\d+\.\d+ 38 ms after sending\)/],
      },
    },
  },
  {
    name: 'late-duplicate-not-injection',
    verdict: 'ok',
    evidence: {
      about: 'a duplicate late answer identical to the first is not injection',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, answer(FB, UDP, [FB4], { late: [late([FB4], 5)] }), answer(FB, DOH, [FB4])),
    },
  },
  {
    name: 'injected-late-rcode',
    verdict: 'dns.injected',
    evidence: {
      about: 'a different rcode in the late answer counts',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, answer(FB, UDP, [FB4], { late: [late([], 60, 'NXDOMAIN')] }), answer(FB, DOH, [FB4])),
    },
  },

  // dns.inconsistent
  {
    name: 'isp-block-server',
    verdict: 'dns.inconsistent',
    evidence: {
      about: 'the system address never validates while the DoH address does',
      target: facebook,
      evidence: (() => {
        const e = withDns(healthy(facebook), FB, answer(FB, SYSTEM, ['95.56.243.92']), answer(FB, DOH, [FB4]));
        return {
          ...e,
          tcp: [...e.tcp, tcp(FB, '95.56.243.92', 443)],
          tls: [...e.tls, tlsBlocked(FB, '95.56.243.92', 443, 'generic_timeout_error', 'generic_timeout_error')],
        };
      })(),
      expect: {
        confidence: 0.8,
        reason: [/via system: answered 95\.56\.243\.92 where doh:https:\/\/1\.1\.1\.1\/dns-query answered/, /valid for www\.facebook\.com while 31\.13/],
      },
    },
    loopback: {
      about: 'ISP resolver sends users to its own block server (a public address, not a bogon)',
      target: { id: 'azattyq', domains: ['rus.azattyq.org'] },
      censor: { ispDns: { 'rus.azattyq.org': { kind: 'answer', addresses: ['92.46.100.50'] } } },
      expect: {
        layer: 'dns',
        observations: [
          { layer: 'dns', domain: 'rus.azattyq.org', resolver: 'system', qtype: 'A', has: { addresses: ['92.46.100.50'] } },
          { layer: 'tls', domain: 'rus.azattyq.org', ip: '92.46.100.50', has: { hostname_ok: false } },
          { layer: 'tls', domain: 'rus.azattyq.org', ip: REAL, has: { hostname_ok: true, trusted: true } },
        ],
      },
    },
  },
  {
    name: 'inconsistent-without-tls',
    verdict: 'dns.inconsistent',
    evidence: {
      about: 'judged on TCP connects when the target has no TLS',
      target: noTls,
      evidence: (() => {
        const d = 'news.example.org';
        const [v4] = addressesOf(d) as [string];
        const e = withDns(healthy(noTls), d, answer(d, SYSTEM, ['95.56.243.92']), answer(d, DOH, [v4]));
        return { ...e, tcp: [...e.tcp, tcp(d, '95.56.243.92', 80, 'generic_timeout_error')] };
      })(),
      expect: { confidence: 0.6 },
    },
  },
  {
    name: 'isp-refuses-name',
    verdict: 'dns.inconsistent',
    evidence: {
      about: 'the ISP resolver refuses a name that DoH resolves and that validates',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'dns_servfail_error'), answer(FB, DOH, [FB4]), answer(FB, DOH, [FB6])),
      expect: { confidence: 0.6, reason: [/via system: dns_servfail_error while/] },
    },
  },
  {
    name: 'plain-resolvers-disagree',
    verdict: 'dns.inconsistent',
    evidence: {
      about: 'plain resolvers disagree without DoH: the one whose address does not validate is inconsistent',
      target: facebook,
      evidence: (() => {
        const e = withDns(healthy(facebook), FB, answer(FB, SYSTEM, [FB4]), answer(FB, UDP2, ['95.56.243.92']));
        return {
          ...e,
          tcp: [...e.tcp, tcp(FB, '95.56.243.92', 443)],
          tls: [...e.tls, tlsUntrusted(FB, '95.56.243.92', 443, [cert('CN=stub.example.kz', 'CN=stub.example.kz')])],
        };
      })(),
      expect: { reason: [/via udp:77\.88\.8\.8:53: answered 95\.56\.243\.92 where the other resolvers answered/] },
    },
  },
  {
    name: 'cdn-answer-validates',
    verdict: 'ok',
    evidence: {
      about: 'the system answer differs from DoH (CDN) but completes a TLS handshake valid for the domain',
      target: facebook,
      evidence: (() => {
        const e = withDns(healthy(facebook), FB, answer(FB, SYSTEM, ['157.240.9.35']), answer(FB, DOH, [FB4]));
        return { ...e, tcp: [...e.tcp, tcp(FB, '157.240.9.35', 443)], tls: [...e.tls, tls(FB, '157.240.9.35', 443)] };
      })(),
    },
    control: {
      about: "the control resolved other addresses (a CDN's other edge); the probe's own answer completes a valid handshake: consistent",
      target: facebook,
      evidence: (() => {
        const e = withDns(healthy(facebook), FB, answer(FB, SYSTEM, ['157.240.9.35']));
        return { ...e, tcp: [...e.tcp, tcp(FB, '157.240.9.35', 443)], tls: [...e.tls, tls(FB, '157.240.9.35', 443)] };
      })(),
      control: withDns(healthy(facebook), FB, answer(FB, SYSTEM, [FB4])),
    },
  },

  // dns.timeout
  {
    name: 'dns-silenced',
    verdict: 'dns.timeout',
    evidence: {
      about: 'every resolver timed out',
      target: facebook,
      evidence: withDns(
        emptyEvidence(),
        FB,
        dnsFailure(FB, SYSTEM, 'generic_timeout_error'),
        dnsFailure(FB, UDP, 'generic_timeout_error'),
        dnsFailure(FB, DOH, 'generic_timeout_error'),
      ),
      expect: {
        layer: 'dns',
        confidence: 0.8,
        reason: [/every DNS query timed out \(system, udp:8\.8\.8\.8:53, doh:https:\/\/1\.1\.1\.1\/dns-query\)/],
      },
    },
    loopback: {
      about: 'every plain resolver is silenced and the DoH control is blackholed',
      target: { id: 'telegram-web', domains: ['web.telegram.org'] },
      censor: { pathDns: { 'web.telegram.org': { kind: 'drop' } }, dohBlackholed: true },
      expect: {
        layer: 'dns',
        observations: [
          { layer: 'dns', domain: 'web.telegram.org', resolver: 'udp', qtype: 'A', has: { failure: 'generic_timeout_error' } },
          { layer: 'dns', domain: 'web.telegram.org', resolver: 'doh', qtype: 'A', has: { failure: 'generic_timeout_error' } },
        ],
      },
    },
  },
  {
    name: 'system-timeout-doh-answers',
    verdict: 'ok',
    evidence: {
      about: 'the system resolver timed out but DoH answered and everything validates (not dns.timeout)',
      target: facebook,
      evidence: withDns(healthy(facebook), FB, dnsFailure(FB, SYSTEM, 'generic_timeout_error'), answer(FB, DOH, [FB4]), answer(FB, DOH, [FB6])),
    },
  },

  {
    name: 'resolver-drops-name',
    verdict: 'dns.timeout',
    evidence: {
      about: "the system's resolver, asked directly, never answers (getaddrinfo says EAI_AGAIN) while DoH answers an address that validates",
      target: facebook,
      evidence: withDns(
        healthy(facebook),
        FB,
        dnsFailure(FB, SYSTEM, 'dns_servfail_error'),
        dnsFailure(FB, SYSTEM_DIRECT, 'generic_timeout_error'),
        dnsFailure(FB, SYSTEM_DIRECT, 'generic_timeout_error', { qtype: 'AAAA' }),
        answer(FB, DOH, [FB4]),
        answer(FB, DOH, [FB6]),
      ),
      expect: {
        layer: 'dns',
        confidence: 0.75,
        reason: [/the system's resolver \(system#1, asked directly\) never answered \(A, AAAA timed out\), and getaddrinfo failed \(dns_servfail_error\)/],
      },
    },
    loopback: {
      about: 'the ISP resolver drops the query for one name; the honest resolver and DoH answer',
      target: { id: 'whatsapp-web', domains: ['web.whatsapp.com'] },
      censor: { ispDns: { 'web.whatsapp.com': { kind: 'drop' } } },
      expect: {
        layer: 'dns',
        observations: [
          { layer: 'dns', domain: 'web.whatsapp.com', resolver: 'system', qtype: 'A', has: { failure: 'generic_timeout_error' } },
          { layer: 'dns', domain: 'web.whatsapp.com', resolver: 'system-direct', qtype: 'A', has: { failure: 'generic_timeout_error', rcode: null } },
          { layer: 'dns', domain: 'web.whatsapp.com', resolver: 'udp', qtype: 'A', has: { failure: null } },
        ],
      },
    },
    lab: {
      summary: 'the ISP resolver silently drops every query for web.whatsapp.com',
      mechanism: 'iptables -A INPUT -d <ISP resolver> --dport 53 -m string --hex-string "|03|web|08|whatsapp|03|com|00|" -j DROP (udp and tcp)',
      apply: (c) => c.dropDnsName('web.whatsapp.com'),
      blocked: { 'whatsapp-web': { verdict: 'dns.timeout', layer: 'dns' } },
      check(r) {
        const m = measured(r, 'whatsapp-web');
        const queries = m.evidence.dns.flatMap((d) => d.queries);
        // Asked directly, the resolver of resolv.conf is silent; getaddrinfo reports that as EAI_AGAIN.
        const direct = queries.filter((q) => q.resolver === 'system#1');
        expect(direct.length).toBeGreaterThan(0);
        for (const q of direct) expect([q.kind, q.failure, q.rcode]).toEqual(['udp', 'generic_timeout_error', null]);
        // getaddrinfo gives up with EAI_AGAIN (read as SERVFAIL), or the step's deadline comes first.
        expect(['dns_servfail_error', 'generic_timeout_error']).toContain(queries.find((q) => q.resolver === 'system')?.failure);
        expect(queries.find((q) => q.resolver === LAB_HONEST_RESOLVER)?.addresses).toEqual([labTarget('whatsapp-web').ip]);
        expect(m.verdict.reason).toMatch(/system#1, asked directly\) never answered/);
        // The resolver of resolv.conf is named by its place, never by its address.
        expect(JSON.stringify(m.evidence.dns)).not.toContain('10.77.1.1');
        // Other names still resolve through it.
        expect(measured(r, 'youtube').evidence.dns[0]?.queries.find((q) => q.resolver === 'system#1')?.failure).toBeNull();
      },
    },
  },
  {
    name: 'system-resolver-servfail',
    verdict: 'dns.inconsistent',
    evidence: {
      about: "asked directly, the system's resolver answers SERVFAIL (not silence): a resolver error, not dns.timeout",
      target: facebook,
      evidence: withDns(
        healthy(facebook),
        FB,
        dnsFailure(FB, SYSTEM, 'dns_servfail_error'),
        dnsFailure(FB, SYSTEM_DIRECT, 'dns_servfail_error'),
        answer(FB, DOH, [FB4]),
        answer(FB, DOH, [FB6]),
      ),
      expect: { confidence: 0.6, reason: [/via system: dns_servfail_error while/] },
    },
  },

  // inconclusive
  {
    name: 'servfail-everywhere',
    verdict: 'inconclusive',
    evidence: {
      about: 'SERVFAIL/REFUSED everywhere without control',
      target: facebook,
      evidence: withDns(
        emptyEvidence(),
        FB,
        dnsFailure(FB, SYSTEM, 'dns_servfail_error'),
        dnsFailure(FB, UDP, 'dns_refused_error'),
        dnsFailure(FB, DOH, 'dns_servfail_error'),
      ),
      expect: {
        layer: null,
        subjects: [FB],
        reason: [/no resolver gave a usable answer \(system: dns_servfail_error, udp:8\.8\.8\.8:53: dns_refused_error/],
      },
    },
    loopback: {
      about: 'every resolver answers SERVFAIL and no control settles it',
      target: { id: 'signal', domains: ['chat.signal.org'] },
      censor: {
        pathDns: { 'chat.signal.org': { kind: 'servfail' } },
        dohBlackholed: true,
      },
      expect: {
        observations: [{ layer: 'dns', domain: 'chat.signal.org', resolver: 'udp', qtype: 'A', has: { failure: 'dns_servfail_error' } }],
      },
    },
  },
];
