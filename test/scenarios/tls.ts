// TLS censorship scenarios: SNI filtering, stalls, cut handshakes and interception with a national root.
import type { ScenarioCase } from '../loopback/scenario.js';

export const tlsCases: ScenarioCase[] = [
  {
    name: 'SNI filter resets the ClientHello for the target while a neutral SNI passes',
    target: { id: 'facebook-sni', domains: ['facebook.com'] },
    censor: { tls: { 'facebook.com': 'sni-reset' } },
    expect: {
      verdict: 'tls.reset',
      layer: 'tls',
      minConfidence: 0.9,
      observations: [
        { layer: 'tls', domain: 'facebook.com', has: { failure: 'connection_reset', neutral: { failure: null } } },
        { layer: 'tcp', domain: 'facebook.com', has: { failure: null } },
      ],
    },
  },
  {
    name: 'handshake stalls after the ClientHello',
    target: { id: 'messenger', domains: ['edge-mqtt.facebook.com'] },
    censor: { tls: { 'edge-mqtt.facebook.com': 'stall' } },
    expect: {
      verdict: 'tls.timeout',
      layer: 'tls',
      observations: [{ layer: 'tls', domain: 'edge-mqtt.facebook.com', has: { failure: 'generic_timeout_error' } }],
    },
  },
  {
    name: 'the connection is closed right after the ClientHello',
    target: { id: 'currenttime', domains: ['currenttime.tv'] },
    censor: { tls: { 'currenttime.tv': 'eof' } },
    expect: {
      verdict: 'tls.eof',
      layer: 'tls',
      observations: [{ layer: 'tls', domain: 'currenttime.tv', has: { failure: 'eof_error' } }],
    },
  },
  {
    name: 'interception with the Qaznet Trust Network root',
    target: { id: 'instagram-mitm', domains: ['cdninstagram.com'] },
    censor: { tls: { 'cdninstagram.com': 'qaznet' } },
    expect: {
      verdict: 'tls.interception',
      layer: 'tls',
      minConfidence: 0.95,
      observations: [{ layer: 'tls', domain: 'cdninstagram.com', has: { trusted: false, chain: [{}, { subject: 'CN=Security Certificate' }] } }],
    },
  },
  {
    name: 'interception with an unknown self-signed certificate',
    target: { id: 'vlast', domains: ['vlast.kz'] },
    censor: { tls: { 'vlast.kz': 'self-signed' } },
    expect: {
      verdict: 'tls.interception',
      layer: 'tls',
      observations: [{ layer: 'tls', domain: 'vlast.kz', has: { trusted: false } }],
    },
  },
];
