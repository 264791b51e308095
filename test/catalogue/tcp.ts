// TCP censorship cases: resets, blackholes and refusals towards a service's addresses and fixed endpoints.
import { expect } from 'vitest';
import { change, healthy, target } from '../classify-builders.js';
import { dcAddresses, labTarget } from '../lab/topology.js';
import type { CatalogueCase } from './case.js';
import { measured } from './lab-run.js';
import { FB, FB6, facebook, fbTcp, telegram } from './targets.js';

const ip = (id: string) => labTarget(id).ip;

/** Telegram's five data centres, of which three are dropped in the partial case. */
const DCS = ['149.154.175.50', '149.154.167.51', '149.154.175.100', '149.154.167.91', '149.154.171.5'];
const DROPPED_DCS = DCS.slice(0, 3);
const telegramDcs = target({ id: 'telegram-dc', category: 'messenger', endpoints: DCS.map((ip) => ({ ip, ports: [443] })), tls_ports: [], http: null });

/** Telegram with one data centre's endpoint timing out. */
const telegramDcTimesOut = () => change(healthy(telegram), 'tcp', (t) => t.ip === '149.154.175.50', (t) => ({ ...t, failure: 'generic_timeout_error' }));

export const tcpCases: CatalogueCase[] = [
  // ok
  {
    name: 'mixed-tcp-one-success',
    verdict: 'ok',
    evidence: {
      about: 'mixed TCP results with one success per domain',
      target: facebook,
      evidence: change(healthy(facebook), 'tcp', (t) => t.ip === FB6, (t) => ({ ...t, failure: 'connection_reset', rtt_ms: null })),
    },
  },
  {
    name: 'whatsapp-chat-ports',
    verdict: 'ok',
    loopback: {
      about: 'WhatsApp chat hosts reachable on 443 and 5222',
      target: { id: 'whatsapp-chat', domains: ['e1.whatsapp.net', 'e2.whatsapp.net'], ports: [443, 5222], tls_ports: [], http: null },
      censor: {},
      expect: {
        observations: [{ layer: 'tcp', domain: 'e2.whatsapp.net', port: 5222, has: { failure: null } }],
      },
    },
  },

  // tcp.reset
  {
    name: 'tcp-reset',
    verdict: 'tcp.reset',
    evidence: {
      about: 'every address reset',
      target: facebook,
      evidence: fbTcp((t) => ({ ...t, failure: 'connection_reset', operation: 'connect', rtt_ms: null })),
      expect: {
        layer: 'tcp',
        confidence: 0.9,
        reason: [/www\.facebook\.com: TCP connect to port 443 was reset \(connection_reset\) at every address/],
      },
    },
    loopback: {
      about: 'middlebox resets every connection to the addresses',
      target: { id: 'twitter', domains: ['twitter.com'] },
      censor: { tcp: { 'twitter.com': 'reset' } },
      expect: {
        layer: 'tcp',
        observations: [{ layer: 'tcp', domain: 'twitter.com', port: 443, has: { failure: 'connection_reset', operation: 'connect' } }],
      },
    },
    lab: {
      summary: "Instagram's address: connections are reset as soon as the handshake is done",
      mechanism: `iptables -A FORWARD -p tcp -d ${ip('instagram')} ! --syn -j REJECT --reject-with tcp-reset`,
      apply: (c) => c.resetTcp([ip('instagram')], 'after-handshake'),
      blocked: { instagram: { verdict: 'tcp.reset', layer: 'tcp' } },
      check(r) {
        const tcp = measured(r, 'instagram').evidence.tcp;
        expect(tcp.length).toBeGreaterThan(0);
        // The SYN passed (a refused connect would say connection_refused); the reset lands as the
        // connection completes or right after it, both recorded at the connect step.
        for (const t of tcp) {
          expect(t.failure).toBe('connection_reset');
          expect(t.operation).toBe('connect');
        }
      },
    },
  },

  {
    name: 'whatsapp-partial',
    verdict: 'tcp.reset',
    evidence: { fixture: 'whatsapp-partial' },
  },

  // tcp.refused
  {
    name: 'tcp-refused',
    verdict: 'tcp.refused',
    evidence: {
      about: 'every address refused',
      target: facebook,
      evidence: fbTcp((t) => ({ ...t, failure: 'connection_refused', rtt_ms: null })),
      expect: { confidence: 0.7 },
    },
    loopback: {
      about: 'connections refused',
      target: { id: 'torproject', domains: ['www.torproject.org'] },
      censor: { tcp: { 'www.torproject.org': 'refuse' } },
      expect: {
        layer: 'tcp',
        observations: [{ layer: 'tcp', domain: 'www.torproject.org', has: { failure: 'connection_refused' } }],
      },
    },
    lab: {
      summary: "Instagram's address: the SYN itself is answered with a reset (to a client, a closed port)",
      mechanism: `iptables -A FORWARD -p tcp -d ${ip('instagram')} --syn -j REJECT --reject-with tcp-reset`,
      apply: (c) => c.resetTcp([ip('instagram')], 'syn'),
      blocked: { instagram: { verdict: 'tcp.refused', layer: 'tcp' } },
      check(r) {
        for (const t of measured(r, 'instagram').evidence.tcp) expect(t.failure).toBe('connection_refused');
      },
    },
  },

  // tcp.timeout
  {
    name: 'addresses-blackholed',
    verdict: 'tcp.timeout',
    evidence: {
      about: 'every address timed out',
      target: facebook,
      evidence: fbTcp((t) => ({ ...t, failure: 'generic_timeout_error', rtt_ms: null })),
      expect: { confidence: 0.8 },
    },
    loopback: {
      about: 'addresses blackholed: SYNs dropped, connects time out',
      target: { id: 'tiktok', domains: ['www.tiktok.com'] },
      censor: { tcp: { 'www.tiktok.com': 'blackhole' } },
      expect: {
        layer: 'tcp',
        observations: [{ layer: 'tcp', domain: 'www.tiktok.com', has: { failure: 'generic_timeout_error' } }],
      },
    },
  },
  {
    name: 'blackhole',
    verdict: 'tcp.timeout',
    evidence: { fixture: 'telegram-dc-blackhole' },
    loopback: {
      about: 'a Telegram data centre blackholed while the others answer',
      target: {
        id: 'telegram-dc',
        endpoints: [
          { ip: '149.154.175.50', ports: [443, 80] },
          { ip: '149.154.167.51', ports: [443, 80] },
        ],
        ports: [443, 80],
        tls_ports: [],
        http: null,
      },
      censor: { tcp: { '149.154.175.50': 'blackhole' } },
      expect: {
        layer: 'tcp',
        observations: [
          { layer: 'tcp', ip: '149.154.175.50', port: 443, has: { domain: null, failure: 'generic_timeout_error' } },
          { layer: 'tcp', ip: '149.154.167.51', port: 443, has: { failure: null } },
        ],
      },
    },
    lab: {
      summary: "Telegram's web and data-centre addresses: packets silently dropped",
      mechanism: `iptables -A FORWARD -d ${ip('telegram')} -j DROP (and each of the five data centres ${dcAddresses().join(', ')})`,
      apply: (c) => c.blackhole([ip('telegram'), ...dcAddresses()]),
      blocked: {
        telegram: { verdict: 'tcp.timeout', layer: 'tcp' },
        'telegram-dc': { verdict: 'tcp.timeout', layer: 'tcp' },
      },
      check(r) {
        for (const id of ['telegram', 'telegram-dc']) {
          const tcp = measured(r, id).evidence.tcp;
          expect(tcp.length).toBeGreaterThan(0);
          for (const t of tcp) expect(t.failure, `${id} ${t.ip}:${t.port}`).toBe('generic_timeout_error');
        }
        // Everything is dropped: full blocking, no scope of partial.
        expect(measured(r, 'telegram-dc').verdict.scope).toBeUndefined();
      },
    },
  },
  {
    name: 'telegram-dc-partial',
    verdict: 'tcp.timeout',
    evidence: {
      about: '3 of 5 data centres blackholed, 2 connect: partial, with both lists',
      target: telegramDcs,
      evidence: change(healthy(telegramDcs), 'tcp', (t) => DROPPED_DCS.includes(t.ip), (t) => ({ ...t, failure: 'generic_timeout_error', rtt_ms: null })),
      expect: {
        layer: 'tcp',
        subjects: DROPPED_DCS.map((d) => `${d}:443`),
        scope: 'partial',
        working: DCS.filter((d) => !DROPPED_DCS.includes(d)).map((d) => `${d}:443`),
      },
    },
    lab: {
      summary: "3 of Telegram's 5 data centres dropped; 2 still answer",
      mechanism: `iptables -A FORWARD -d <DC> -j DROP for ${dcAddresses().slice(0, 3).join(', ')}`,
      apply: (c) => c.blackhole(dcAddresses().slice(0, 3)),
      blocked: { 'telegram-dc': { verdict: 'tcp.timeout', layer: 'tcp' } },
      check(r) {
        const m = measured(r, 'telegram-dc');
        const dropped = dcAddresses().slice(0, 3);
        for (const t of m.evidence.tcp) expect(t.failure, `${t.ip}:${t.port}`).toBe(dropped.includes(t.ip) ? 'generic_timeout_error' : null);
        // Machine-readable: partial, the failing and the working data centres (per port) listed.
        expect(m.verdict.scope).toBe('partial');
        expect([...m.verdict.subjects].sort()).toEqual(dropped.flatMap((d) => [`${d}:443`, `${d}:80`]).sort());
        expect([...(m.verdict.working ?? [])].sort()).toEqual(dcAddresses().slice(3).flatMap((d) => [`${d}:443`, `${d}:80`]).sort());
        // Telegram's web site is a target of its own and untouched.
        expect(measured(r, 'telegram').verdict.verdict).toBe('ok');
      },
    },
  },
  {
    name: 'some-addresses-reset',
    verdict: 'tcp.reset',
    evidence: {
      about: 'one of two IPv4 addresses of a domain reset, the other connects: partial over addresses',
      target: facebook,
      evidence: (() => {
        const e = healthy(facebook, { [FB]: ['31.13.72.36', '157.240.9.35'] });
        return change(e, 'tcp', (t) => t.ip === '157.240.9.35', (t) => ({ ...t, failure: 'connection_reset', rtt_ms: null }));
      })(),
      expect: {
        confidence: 0.63,
        subjects: [`${FB} 157.240.9.35:443`],
        scope: 'partial',
        working: [`${FB} 31.13.72.36:443`],
        reason: [/at 1 of 2 addresses \(157\.240\.9\.35\) while 31\.13\.72\.36 connected/],
      },
    },
  },
  {
    name: 'ipv6-unroutable-ipv4-timeout',
    verdict: 'tcp.timeout',
    evidence: {
      about: 'IPv6 without a route is left out, IPv4 timed out',
      target: facebook,
      evidence: fbTcp((t) => ({ ...t, failure: t.ip === FB6 ? 'network_unreachable' : 'generic_timeout_error', rtt_ms: null })),
      expect: { confidence: 0.8 },
    },
  },
  {
    name: 'telegram-dc-endpoint',
    verdict: 'tcp.timeout',
    evidence: {
      about: 'fixed endpoints are judged one by one',
      target: telegram,
      evidence: telegramDcTimesOut(),
      expect: {
        subjects: ['149.154.175.50:443'],
        reason: [/^149\.154\.175\.50:443: TCP connect timed out \(generic_timeout_error\)$/],
      },
    },
  },
  {
    name: 'telegram-dc-control-connects',
    verdict: 'tcp.timeout',
    control: {
      about: 'tcp.timeout stays when the control connects',
      target: telegram,
      evidence: telegramDcTimesOut(),
      control: healthy(telegram),
    },
  },

  // down
  {
    name: 'telegram-dc-down',
    verdict: 'down',
    control: {
      about: 'the control times out on the same endpoint',
      target: telegram,
      evidence: telegramDcTimesOut(),
      control: telegramDcTimesOut(),
      expect: { layer: 'tcp', subjects: ['149.154.175.50:443'] },
    },
  },
  {
    name: 'closed-news-down',
    verdict: 'down',
    control: { fixture: 'closed-news-down-control' },
  },

  // inconclusive
  {
    name: 'tcp-unknown-failure',
    verdict: 'inconclusive',
    evidence: {
      about: 'unknown_failure at TCP everywhere',
      target: facebook,
      evidence: fbTcp((t) => ({ ...t, failure: 'unknown_failure' })),
      expect: { reason: [/failed with unknown_failure/] },
    },
  },
];
