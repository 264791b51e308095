// DNS censorship scenarios: what the ISP's resolver or an on-path injector does, and what the probe must see.
import { expect } from 'vitest';
import { REAL, type ScenarioCase } from '../loopback/scenario.js';

export const dnsCases: ScenarioCase[] = [
  {
    name: 'clean: every resolver agrees and the site answers',
    target: { id: 'youtube', domains: ['www.youtube.com'] },
    censor: {},
    expect: {
      verdict: 'ok',
      observations: [
        { layer: 'dns', domain: 'www.youtube.com', resolver: 'system', qtype: 'A', has: { failure: null, rcode: 'NOERROR' } },
        { layer: 'http', domain: 'www.youtube.com', has: { status: 200, title: 'www.youtube.com', failure: null } },
      ],
    },
  },
  {
    name: 'ISP resolver answers NXDOMAIN for an existing domain',
    target: { id: 'vk', domains: ['vk.com'] },
    censor: { ispDns: { 'vk.com': { kind: 'nxdomain' } } },
    expect: {
      verdict: 'dns.nxdomain',
      layer: 'dns',
      observations: [
        { layer: 'dns', domain: 'vk.com', resolver: 'system', qtype: 'A', has: { failure: 'dns_nxdomain_error' } },
        { layer: 'dns', domain: 'vk.com', resolver: 'udp', qtype: 'A', has: { failure: null } },
      ],
    },
  },
  {
    name: 'ISP resolver answers a private (bogon) address',
    target: { id: 'facebook', domains: ['www.facebook.com'] },
    censor: { ispDns: { 'www.facebook.com': { kind: 'answer', addresses: ['10.10.34.36'] } } },
    expect: {
      verdict: 'dns.bogon',
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
  {
    name: 'on-path injector races a wrong answer ahead of the real one, even to the honest resolver',
    target: { id: 'instagram', domains: ['www.instagram.com'] },
    censor: {
      pathDns: {
        'www.instagram.com': { kind: 'race', injected: ['88.204.157.10'], real: [REAL], delayMs: 30 },
      },
    },
    expect: {
      verdict: 'dns.injected',
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
  {
    name: 'ISP resolver sends users to its own block server (a public address, not a bogon)',
    target: { id: 'azattyq', domains: ['rus.azattyq.org'] },
    censor: { ispDns: { 'rus.azattyq.org': { kind: 'answer', addresses: ['92.46.100.50'] } } },
    expect: {
      verdict: 'dns.inconsistent',
      layer: 'dns',
      observations: [
        { layer: 'dns', domain: 'rus.azattyq.org', resolver: 'system', qtype: 'A', has: { addresses: ['92.46.100.50'] } },
        { layer: 'tls', domain: 'rus.azattyq.org', ip: '92.46.100.50', has: { hostname_ok: false } },
        { layer: 'tls', domain: 'rus.azattyq.org', ip: REAL, has: { hostname_ok: true, trusted: true } },
      ],
    },
  },
  {
    name: 'every plain resolver is silenced and the DoH control is blackholed',
    target: { id: 'telegram-web', domains: ['web.telegram.org'] },
    censor: { pathDns: { 'web.telegram.org': { kind: 'drop' } }, dohBlackholed: true },
    expect: {
      verdict: 'dns.timeout',
      layer: 'dns',
      observations: [
        { layer: 'dns', domain: 'web.telegram.org', resolver: 'udp', qtype: 'A', has: { failure: 'generic_timeout_error' } },
        { layer: 'dns', domain: 'web.telegram.org', resolver: 'doh', qtype: 'A', has: { failure: 'generic_timeout_error' } },
      ],
    },
  },
  {
    name: 'every resolver answers SERVFAIL and no control settles it',
    target: { id: 'signal', domains: ['chat.signal.org'] },
    censor: {
      pathDns: { 'chat.signal.org': { kind: 'servfail' } },
      dohBlackholed: true,
    },
    expect: {
      verdict: 'inconclusive',
      observations: [
        { layer: 'dns', domain: 'chat.signal.org', resolver: 'udp', qtype: 'A', has: { failure: 'dns_servfail_error' } },
      ],
    },
  },
];
