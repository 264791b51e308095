// TLS censorship cases: SNI filtering, stalls, cut handshakes and interception with a national root.
import { expect } from 'vitest';
import { cert, change, healthy, tls, tlsBlocked, tlsUntrusted } from '../classify-builders.js';
import { NATIONAL_ROOT_CN } from '../lab/pki.js';
import { NEUTRAL_SNI, labTarget } from '../lab/topology.js';
import type { CatalogueCase } from './case.js';
import { measured } from './lab-run.js';
import { FB, FB4, QAZNET_ROOT_FP, facebook, fbTls } from './targets.js';

const ip = (id: string) => labTarget(id).ip;

/** Facebook's own certificate, expired: what the control sees too when the service is broken. */
const brokenFacebook = () =>
  fbTls((t) => tlsUntrusted(FB, t.ip, t.port, [cert('CN=www.facebook.com', 'CN=www.facebook.com')], 'failure', 'CERT_HAS_EXPIRED'));

export const tlsCases: CatalogueCase[] = [
  // ok
  {
    name: 'mixed-tls-one-valid',
    verdict: 'ok',
    evidence: {
      about: 'one address resets the target SNI, the other validates (mixed TLS)',
      target: facebook,
      evidence: change(healthy(facebook), 'tls', (t) => t.ip === FB4, (t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok')),
    },
  },

  // tls.reset
  {
    name: 'sni-filter',
    verdict: 'tls.reset',
    evidence: { fixture: 'facebook-sni-reset' },
    loopback: {
      about: 'SNI filter resets the ClientHello for the target while a neutral SNI passes',
      target: { id: 'facebook-sni', domains: ['facebook.com'] },
      censor: { tls: { 'facebook.com': 'sni-reset' } },
      expect: {
        layer: 'tls',
        minConfidence: 0.9,
        observations: [
          { layer: 'tls', domain: 'facebook.com', has: { failure: 'connection_reset', neutral: { failure: null } } },
          { layer: 'tcp', domain: 'facebook.com', has: { failure: null } },
        ],
      },
    },
    lab: {
      summary: 'a ClientHello naming Facebook is reset; the same address with another SNI works',
      mechanism: 'iptables -A FORWARD -p tcp --dport 443 -m string --algo bm --string facebook.com -j REJECT --reject-with tcp-reset',
      apply: (c) => c.filterSni(['facebook.com']),
      blocked: { facebook: { verdict: 'tls.reset', layer: 'tls' } },
      check(r) {
        const tlsSeen = measured(r, 'facebook').evidence.tls;
        expect(tlsSeen.length).toBe(2);
        for (const t of tlsSeen) {
          expect(t.failure, t.sni ?? '').toBe('connection_reset');
          expect(t.ip).toBe(ip('facebook'));
          // Same address, another SNI: fine.
          expect(t.neutral?.sni).toBe(NEUTRAL_SNI);
          expect(t.neutral?.failure).toBeNull();
        }
      },
    },
  },
  {
    name: 'sni-reset-neutral-completes',
    verdict: 'tls.reset',
    evidence: {
      about: 'target SNI reset, neutral SNI to the same address completed (SNI filtering): 0.95',
      target: facebook,
      evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok')),
      expect: {
        layer: 'tls',
        confidence: 0.95,
        reason: [/TLS handshake with SNI www\.facebook\.com on port 443 was reset \(connection_reset\) .* while a neutral SNI \(www\.example\.com\) to the same address completed: SNI filtering/],
      },
    },
  },
  {
    name: 'tls-reset-by-address',
    verdict: 'tls.reset',
    evidence: {
      about: 'the neutral SNI was reset too (blocking by address at TLS time): 0.6',
      target: facebook,
      evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'connection_reset')),
      expect: { confidence: 0.6, reason: [/a neutral SNI to the same address failed too \(connection_reset\): blocking by address/] },
    },
  },
  {
    name: 'tls-reset-no-neutral',
    verdict: 'tls.reset',
    evidence: {
      about: 'no neutral retry recorded: 0.75',
      target: facebook,
      evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', null)),
      expect: { confidence: 0.75 },
    },
  },

  // tls.timeout
  {
    name: 'tls-stall',
    verdict: 'tls.timeout',
    evidence: {
      about: 'the target SNI times out after ClientHello, the neutral SNI completes: 0.95',
      target: facebook,
      evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'generic_timeout_error', 'ok')),
      expect: { confidence: 0.95 },
    },
    loopback: {
      about: 'handshake stalls after the ClientHello',
      target: { id: 'messenger', domains: ['edge-mqtt.facebook.com'] },
      censor: { tls: { 'edge-mqtt.facebook.com': 'stall' } },
      expect: {
        layer: 'tls',
        observations: [{ layer: 'tls', domain: 'edge-mqtt.facebook.com', has: { failure: 'generic_timeout_error' } }],
      },
    },
  },
  {
    name: 'youtube-sni-timeout',
    verdict: 'tls.timeout',
    evidence: { fixture: 'youtube-sni-timeout' },
  },

  // tls.eof
  {
    name: 'tls-eof',
    verdict: 'tls.eof',
    evidence: {
      about: 'the connection is closed during the handshake, the neutral SNI completes',
      target: facebook,
      evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'eof_error', 'ok')),
      expect: { confidence: 0.95 },
    },
    loopback: {
      about: 'the connection is closed right after the ClientHello',
      target: { id: 'currenttime', domains: ['currenttime.tv'] },
      censor: { tls: { 'currenttime.tv': 'eof' } },
      expect: {
        layer: 'tls',
        observations: [{ layer: 'tls', domain: 'currenttime.tv', has: { failure: 'eof_error' } }],
      },
    },
  },

  // tls.interception
  {
    name: 'qaznet-interception',
    verdict: 'tls.interception',
    evidence: { fixture: 'instagram-qaznet-interception' },
    loopback: {
      about: 'interception with the Qaznet Trust Network root',
      target: { id: 'instagram-mitm', domains: ['cdninstagram.com'] },
      censor: { tls: { 'cdninstagram.com': 'qaznet' } },
      expect: {
        layer: 'tls',
        minConfidence: 0.95,
        observations: [{ layer: 'tls', domain: 'cdninstagram.com', has: { trusted: false, chain: [{}, { subject: 'CN=Security Certificate' }] } }],
      },
    },
  },
  {
    name: 'security-certificate-by-subject',
    verdict: 'tls.interception',
    evidence: {
      about: 'leaf issued by the 2019 "Security Certificate" intermediate: 0.99 by subject',
      target: facebook,
      evidence: fbTls((t) => tlsUntrusted(FB, t.ip, t.port, [cert('CN=*.facebook.com', 'C=KZ, CN=Security Certificate')])),
      expect: {
        layer: 'tls',
        confidence: 0.99,
        reason: [/known interception CA "Security Certificate \(2019 intermediate under Qaznet Trust Network\)" \(matched by subject/],
      },
    },
  },
  {
    name: 'qaznet-root-by-fingerprint',
    verdict: 'tls.interception',
    evidence: {
      about: 'the Qaznet root itself is in the chain: 0.99 by fingerprint',
      target: facebook,
      evidence: fbTls((t) =>
        tlsUntrusted(FB, t.ip, t.port, [
          cert('CN=*.facebook.com', 'C=KZ\nCN=Some Renamed Intermediate'),
          cert('C=KZ\nCN=Some Renamed Intermediate', 'C=KZ\nCN=Renamed Root'),
          cert('C=KZ\nCN=Renamed Root', 'C=KZ\nCN=Renamed Root', { fingerprint256: QAZNET_ROOT_FP }),
        ]),
      ),
      expect: { confidence: 0.99, reason: [/"Qaznet Trust Network \(2019 root\)" \(matched by fingerprint/] },
    },
  },
  {
    name: 'isca-failure-form',
    verdict: 'tls.interception',
    evidence: {
      about: 'the failure form (ssl_unknown_authority) with the 2020 ISCA name',
      target: facebook,
      evidence: fbTls((t) =>
        tlsUntrusted(FB, t.ip, t.port, [cert('CN=*.facebook.com', 'C=KZ,O=ISCA,CN=Information Security Certification Authority')], 'failure'),
      ),
      expect: { confidence: 0.99, reason: [/ISCA, 2020 root/] },
    },
  },
  {
    name: 'google-isca-interception',
    verdict: 'tls.interception',
    evidence: { fixture: 'google-isca-interception' },
  },
  {
    name: 'interception-root-installed',
    verdict: 'tls.interception',
    evidence: {
      about: 'even when the machine trusts the interception root (installed as told): 0.99',
      target: facebook,
      evidence: fbTls((t) => tls(FB, t.ip, t.port, { chain: [cert('CN=*.facebook.com', 'C=KZ, CN=Security Certificate')], trusted: true })),
      expect: { confidence: 0.99 },
    },
  },
  {
    name: 'tls-interception',
    verdict: 'tls.interception',
    evidence: {
      about: 'an unknown untrusted CA, the reason names the issuer: 0.6',
      target: facebook,
      evidence: fbTls((t) =>
        tlsUntrusted(FB, t.ip, t.port, [cert('CN=*.facebook.com', 'C=KZ, O=Example Telecom, CN=Corporate Proxy CA')], 'flags', 'SELF_SIGNED_CERT_IN_CHAIN'),
      ),
      expect: {
        confidence: 0.6,
        reason: [/does not validate for www\.facebook\.com \(SELF_SIGNED_CERT_IN_CHAIN\), issued by "Corporate Proxy CA" \(O=Example Telecom, C=KZ\)/],
      },
    },
    control: {
      about: 'the control does not see that certificate: its handshake validates, so the interception stands',
      target: facebook,
      evidence: fbTls((t) =>
        tlsUntrusted(FB, t.ip, t.port, [cert('CN=*.facebook.com', 'C=KZ, O=Example Telecom, CN=Corporate Proxy CA')], 'flags', 'SELF_SIGNED_CERT_IN_CHAIN'),
      ),
      control: healthy(facebook),
      expect: { layer: 'tls', reason: [/issued by "Corporate Proxy CA"/] },
    },
    lab: {
      summary: "YouTube's TLS is intercepted with certificates from a fake national root",
      mechanism: `iptables -t nat PREROUTING -d ${ip('youtube')} --dport 443 -j REDIRECT to sslsplit, signing with the lab's national root`,
      apply: (c) => c.intercept([ip('youtube')]),
      blocked: { youtube: { verdict: 'tls.interception', layer: 'tls' } },
      check(r) {
        for (const t of measured(r, 'youtube').evidence.tls) {
          expect(t.failure, t.sni ?? '').toBeNull();
          expect(t.trusted).toBe(false);
          expect(t.chain[0]?.issuer).toContain(NATIONAL_ROOT_CN);
          // sslsplit copies the real names into the forged leaf: only the issuer gives it away.
          expect(t.chain[0]?.san).toContain(t.sni);
        }
        // No fetch is made over an untrusted handshake.
        // No https fetch over a chain that does not validate; plain HTTP on port 80 is not intercepted.
        expect(measured(r, 'youtube').evidence.http.filter((h) => h.port === 443)).toEqual([]);
        for (const h of measured(r, 'youtube').evidence.http) expect([h.port, h.status]).toEqual([80, 200]);
        for (const t of measured(r, 'facebook').evidence.tls) expect(t.chain[0]?.issuer).not.toContain(NATIONAL_ROOT_CN);
      },
    },
  },
  {
    name: 'self-signed-interception',
    verdict: 'tls.interception',
    loopback: {
      about: 'interception with an unknown self-signed certificate',
      target: { id: 'vlast', domains: ['vlast.kz'] },
      censor: { tls: { 'vlast.kz': 'self-signed' } },
      expect: {
        layer: 'tls',
        observations: [{ layer: 'tls', domain: 'vlast.kz', has: { trusted: false } }],
      },
    },
  },
  {
    name: 'trusted-chain-wrong-name',
    verdict: 'tls.interception',
    evidence: {
      about: 'a trusted chain for the wrong name: 0.6',
      target: facebook,
      evidence: fbTls((t) => tls(FB, t.ip, t.port, { hostname_ok: false, chain: [cert('CN=iqala.kz', "C=US, O=Let's Encrypt, CN=R11")] })),
      expect: { confidence: 0.6, reason: [/certificate not valid for the name/, /"R11"/] },
    },
  },

  // down
  {
    name: 'broken-certificate-down',
    verdict: 'down',
    control: {
      about: "the control gets the same untrusted chain (the service's own certificate is broken)",
      target: facebook,
      evidence: brokenFacebook(),
      control: brokenFacebook(),
      expect: { layer: 'tls' },
    },
  },

  // inconclusive
  {
    name: 'tls-step-could-not-reconnect',
    verdict: 'inconclusive',
    evidence: {
      about: 'not tls.timeout: the TLS step could not reconnect (failure at operation connect)',
      target: facebook,
      evidence: fbTls((t) => tls(t.domain, t.ip, t.port, { failure: 'generic_timeout_error', operation: 'connect', chain: [], trusted: null, hostname_ok: null })),
      expect: { reason: [/failed with generic_timeout_error at connect/] },
    },
  },
  {
    name: 'tls-handshake-failed-otherwise',
    verdict: 'inconclusive',
    evidence: {
      about: 'a handshake failure outside the blocking patterns (ssl_failed_handshake)',
      target: facebook,
      evidence: fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'ssl_failed_handshake', null)),
    },
  },
];
