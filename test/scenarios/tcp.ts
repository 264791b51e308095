// TCP censorship scenarios: resets, blackholes and refusals towards a service's addresses and fixed endpoints.
import type { ScenarioCase } from '../loopback/scenario.js';

export const tcpCases: ScenarioCase[] = [
  {
    name: 'middlebox resets every connection to the addresses',
    target: { id: 'twitter', domains: ['twitter.com'] },
    censor: { tcp: { 'twitter.com': 'reset' } },
    expect: {
      verdict: 'tcp.reset',
      layer: 'tcp',
      observations: [{ layer: 'tcp', domain: 'twitter.com', port: 443, has: { failure: 'connection_reset', operation: 'connect' } }],
    },
  },
  {
    name: 'addresses blackholed: SYNs dropped, connects time out',
    target: { id: 'tiktok', domains: ['www.tiktok.com'] },
    censor: { tcp: { 'www.tiktok.com': 'blackhole' } },
    expect: {
      verdict: 'tcp.timeout',
      layer: 'tcp',
      observations: [{ layer: 'tcp', domain: 'www.tiktok.com', has: { failure: 'generic_timeout_error' } }],
    },
  },
  {
    name: 'connections refused',
    target: { id: 'torproject', domains: ['www.torproject.org'] },
    censor: { tcp: { 'www.torproject.org': 'refuse' } },
    expect: {
      verdict: 'tcp.refused',
      layer: 'tcp',
      observations: [{ layer: 'tcp', domain: 'www.torproject.org', has: { failure: 'connection_refused' } }],
    },
  },
  {
    name: 'a Telegram data centre blackholed while the others answer',
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
      verdict: 'tcp.timeout',
      layer: 'tcp',
      observations: [
        { layer: 'tcp', ip: '149.154.175.50', port: 443, has: { domain: null, failure: 'generic_timeout_error' } },
        { layer: 'tcp', ip: '149.154.167.51', port: 443, has: { failure: null } },
      ],
    },
  },
  {
    name: 'WhatsApp chat hosts reachable on 443 and 5222',
    target: { id: 'whatsapp-chat', domains: ['e1.whatsapp.net', 'e2.whatsapp.net'], ports: [443, 5222], tls_ports: [], http: null },
    censor: {},
    expect: {
      verdict: 'ok',
      observations: [{ layer: 'tcp', domain: 'e2.whatsapp.net', port: 5222, has: { failure: null } }],
    },
  },
  {
    name: 'total shutdown: nothing answers, canaries included',
    target: { id: 'youtube-shutdown', domains: ['youtube.com'] },
    censor: { shutdown: true },
    expect: { verdict: 'offline' },
  },
];
