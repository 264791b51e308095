// TCP censorship cases: resets, blackholes and refusals towards a service's addresses and fixed endpoints.
import { expect } from 'vitest';
import { change, healthy } from '../classify-builders.js';
import { labTarget } from '../lab/topology.js';
import type { CatalogueCase } from './case.js';
import { measured } from './lab-run.js';
import { FB6, facebook, fbTcp, telegram } from './targets.js';

const ip = (id: string) => labTarget(id).ip;

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
    name: 'whatsapp-partial',
    verdict: 'ok',
    evidence: { fixture: 'whatsapp-partial' },
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
      mechanism: `iptables -A FORWARD -d ${ip('telegram')} -j DROP (and the data centre ${ip('telegram-dc')})`,
      apply: (c) => c.blackhole([ip('telegram'), ip('telegram-dc')]),
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
