// TLS rules for one domain and port: interception (known CA or untrusted chain), SNI filtering and handshake blocking.
import type { TlsHandshakeObservation, TlsObservation } from '../../contract/evidence.js';
import { matchInterceptionCa } from '../interception-cas.js';
import { shortList, unique } from './address.js';
import { CONFIDENCE, conf } from './confidence.js';
import { describeDn } from './distinguished-name.js';
import type { FindingVerdict } from '../../contract/verdict.js';
import type { Finding, PortResult } from './finding.js';

type Outcome = 'ok' | 'known-ca' | 'untrusted' | 'reset' | 'timeout' | 'eof' | 'other';

/** Handshake failures that mean the chain does not validate for the name (not a blocked handshake). */
export const UNTRUSTED_FAILURES: ReadonlySet<string> = new Set(['ssl_unknown_authority', 'ssl_invalid_hostname', 'ssl_invalid_certificate']);

/** A completed handshake whose chain validates for the SNI and is not from a known interception CA. */
export function handshakeValid(t: TlsHandshakeObservation): boolean {
  return t.failure === null && t.trusted === true && t.hostname_ok !== false && matchInterceptionCa(t.chain) === null;
}

/**
 * Accepts both forms the measurement may use for a chain that does not validate: failure null with
 * trusted:false / hostname_ok:false, or an ssl_* failure. A failure of the step's own TCP connect
 * (operation "connect") says nothing about TLS.
 */
function outcomeOf(t: TlsHandshakeObservation, privateCa: boolean): Outcome {
  if (t.chain.length > 0 && matchInterceptionCa(t.chain) !== null) return 'known-ca';
  if (t.failure === null) {
    if (t.hostname_ok === false) return 'untrusted';
    // A service with its own CA: the public roots cannot vouch for it, so an otherwise complete
    // handshake for the right name is what its real servers look like.
    if (t.trusted === false) return privateCa && t.chain.length > 0 ? 'ok' : 'untrusted';
    return 'ok';
  }
  if (privateCa && t.failure === 'ssl_unknown_authority') return 'ok';
  if (UNTRUSTED_FAILURES.has(t.failure)) return 'untrusted';
  if (t.operation === 'connect') return 'other';
  if (t.failure === 'connection_reset') return 'reset';
  if (t.failure === 'generic_timeout_error') return 'timeout';
  if (t.failure === 'eof_error') return 'eof';
  return 'other';
}

const BLOCKING: Record<'reset' | 'timeout' | 'eof', { verdict: FindingVerdict; verb: string }> = {
  reset: { verdict: 'tls.reset', verb: 'was reset' },
  timeout: { verdict: 'tls.timeout', verb: 'timed out' },
  eof: { verdict: 'tls.eof', verb: 'was cut off' },
};

/** Tie order when the failing addresses disagree. */
const ORDER: readonly Outcome[] = ['untrusted', 'reset', 'eof', 'timeout', 'other'];

function issuerOf(t: TlsHandshakeObservation): string {
  const leaf = t.chain[0];
  return leaf === undefined ? 'an unknown issuer (no certificate recorded)' : describeDn(leaf.issuer);
}

/**
 * Judge the handshakes made for `domain` (the name the chain must validate for) on one port.
 * `privateCa`: the domain's real certificates come from the service's own CA (target.private_ca).
 */
export function judgeTlsPort(domain: string, port: number, obs: readonly TlsObservation[], privateCa = false): PortResult {
  const subject = domain;
  if (obs.length === 0) {
    return { findings: [], gaps: [{ subject, layer: 'tls', reason: `${subject}: no TLS handshake on port ${port} was recorded` }], passed: false };
  }
  const judged = obs.map((t) => ({ t, outcome: outcomeOf(t, privateCa) }));
  const onPort = ` on port ${port}`;

  // A known interception CA anywhere is interception, even next to clean handshakes and even when the
  // probe's machine trusts it (a user may have installed the root as told to).
  const known = judged.find((j) => j.outcome === 'known-ca');
  if (known !== undefined) {
    const match = matchInterceptionCa(known.t.chain);
    const finding: Finding = {
      verdict: 'tls.interception',
      layer: 'tls',
      confidence: CONFIDENCE.tlsKnownCa,
      subject,
      reason:
        `${subject}: TLS${onPort} at ${known.t.ip} presented a chain from the known interception CA "${match?.name ?? ''}" ` +
        `(matched by ${match?.by ?? 'subject'}; leaf issued by ${issuerOf(known.t)})`,
    };
    return { findings: [finding], gaps: [], passed: false };
  }
  if (judged.some((j) => j.outcome === 'ok')) return { findings: [], gaps: [], passed: true };

  const counts = ORDER.map((outcome) => ({ outcome, items: judged.filter((j) => j.outcome === outcome).map((j) => j.t) })).filter(
    (c) => c.items.length > 0,
  );
  const top = counts.reduce((best, c) => (c.items.length > best.items.length ? c : best));
  const mixed = counts.length > 1 ? CONFIDENCE.mixedFactor : 1;
  const ips = shortList(unique(top.items.map((t) => t.ip)));
  const sni = top.items[0]?.sni ?? domain;

  if (top.outcome === 'other') {
    const failures = unique(top.items.map((t) => `${t.failure ?? 'unknown_failure'}${t.operation === 'connect' ? ' at connect' : ''}`));
    return {
      findings: [],
      gaps: [{ subject, layer: 'tls', reason: `${subject}: TLS handshake with SNI ${sni}${onPort} failed with ${failures.join(', ')} at ${ips}` }],
      passed: false,
    };
  }
  if (top.outcome === 'untrusted') {
    const t = top.items[0] as TlsObservation;
    const why = t.validation_error ?? (t.failure !== null ? t.failure : t.hostname_ok === false ? 'certificate not valid for the name' : 'untrusted chain');
    const finding: Finding = {
      verdict: 'tls.interception',
      layer: 'tls',
      confidence: conf(CONFIDENCE.tlsUntrusted * mixed),
      subject,
      reason: `${subject}: TLS${onPort} at ${ips} completed with a certificate that does not validate for ${domain} (${why}), issued by ${issuerOf(t)}`,
      symptom: { layer: 'tls', domain, ip: null, port, failure: 'untrusted' },
    };
    return { findings: [finding], gaps: [], passed: false };
  }

  const rule = BLOCKING[top.outcome as 'reset' | 'timeout' | 'eof'];
  const neutralOk = top.items.filter((t) => t.neutral !== null && t.neutral.failure === null).length;
  const neutralFailed = top.items.filter((t) => t.neutral !== null && t.neutral.failure !== null).length;
  let base: number;
  let neutralText: string;
  if (neutralOk > 0 && neutralFailed === 0) {
    base = CONFIDENCE.tlsSni;
    neutralText = ` while a neutral SNI (${top.items.find((t) => t.neutral?.failure === null)?.neutral?.sni ?? 'none'}) to the same address completed: SNI filtering`;
  } else if (neutralFailed > 0 && neutralOk === 0) {
    base = CONFIDENCE.tlsBoth;
    const neutralFailures = unique(top.items.map((t) => t.neutral?.failure).filter((f): f is NonNullable<typeof f> => f !== undefined && f !== null));
    neutralText = `, and a neutral SNI to the same address failed too (${neutralFailures.join(', ')}): blocking by address`;
  } else if (neutralOk > 0) {
    base = CONFIDENCE.tlsMixedNeutral;
    neutralText = `; a neutral SNI completed at ${neutralOk} of ${neutralOk + neutralFailed} addresses`;
  } else {
    base = CONFIDENCE.tlsNoNeutral;
    neutralText = ' (no neutral-SNI retry recorded)';
  }
  const failure = top.items[0]?.failure ?? 'unknown_failure';
  const finding: Finding = {
    verdict: rule.verdict,
    layer: 'tls',
    confidence: conf(base * mixed),
    subject,
    reason: `${subject}: TLS handshake with SNI ${sni}${onPort} ${rule.verb} (${failure}) at ${ips}${neutralText}`,
    symptom: { layer: 'tls', domain, ip: null, port, failure },
  };
  return { findings: [finding], gaps: [], passed: false };
}
