// Compares findings with the control prober's evidence: the same failure there means `down`, not blocking.
import { pageTitle } from '../blockpages.js';
import type { Evidence, TlsObservation } from '../../contract/evidence.js';
import { ipKey, nameKey } from './address.js';
import { CONFIDENCE } from './confidence.js';
import { bogonsOf, isNx, queriesFor, usableAddresses } from './dns.js';
import type { Finding, Symptom } from './finding.js';
import { handshakeValid, UNTRUSTED_FAILURES } from './tls.js';

/** What the control's evidence says about a symptom: it saw the same, something else, or an answer that explains it away. */
type ControlComparison = 'same' | 'differs' | 'explains';

function sameSubject(obsDomain: string | null, obsIp: string, symptom: { domain: string | null; ip: string | null }): boolean {
  if (symptom.domain !== null) return obsDomain !== null && nameKey(obsDomain) === nameKey(symptom.domain);
  return obsDomain === null && symptom.ip !== null && ipKey(obsIp) === ipKey(symptom.ip);
}

function untrusted(t: TlsObservation): boolean {
  return t.failure === null ? t.trusted === false || t.hostname_ok === false : UNTRUSTED_FAILURES.has(t.failure);
}

function compare(symptom: Symptom, control: Evidence): ControlComparison {
  switch (symptom.layer) {
    case 'dns': {
      const queries = queriesFor(control, symptom.domain);
      if (queries.length === 0) return 'differs';
      if (symptom.kind === 'nxdomain') return queries.some(isNx) && !queries.some((q) => usableAddresses(q).length > 0) ? 'same' : 'differs';
      if (symptom.kind === 'timeout') return queries.every((q) => q.failure === 'generic_timeout_error') ? 'same' : 'differs';
      const bogons = new Set(symptom.addresses.map(ipKey));
      return queries.some((q) => [...bogonsOf(q), ...q.addresses].some((a) => bogons.has(ipKey(a)))) ? 'same' : 'differs';
    }
    case 'tcp': {
      const obs = control.tcp.filter((t) => t.port === symptom.port && sameSubject(t.domain, t.ip, symptom));
      if (obs.length === 0 || obs.some((t) => t.failure === null)) return 'differs';
      return obs.some((t) => t.failure === symptom.failure) ? 'same' : 'differs';
    }
    case 'tls': {
      const obs = control.tls.filter((t) => t.port === symptom.port && sameSubject(t.domain, t.ip, symptom));
      if (obs.length === 0 || obs.some(handshakeValid)) return 'differs';
      if (symptom.failure === 'untrusted') return obs.every(untrusted) ? 'same' : 'differs';
      return obs.some((t) => t.failure === symptom.failure) ? 'same' : 'differs';
    }
    case 'http': {
      const obs = control.http.filter((h) => nameKey(h.domain) === nameKey(symptom.domain));
      if (obs.length === 0) return 'differs';
      if (symptom.status !== null) {
        // The service answers the control the same way: the expectation is out of date, nothing is blocked.
        const same = obs.some((h) => {
          const title = pageTitle(h);
          return h.status === symptom.status && (symptom.title === null || title === null || title.trim() === symptom.title.trim());
        });
        return same ? 'explains' : 'differs';
      }
      return obs.every((h) => h.status === null) && obs.some((h) => h.failure === symptom.failure) ? 'same' : 'differs';
    }
  }
}

function describeSymptom(symptom: Symptom): string {
  switch (symptom.layer) {
    case 'dns':
      return symptom.kind === 'bogon' ? `bogon ${symptom.addresses.join(', ')}` : symptom.kind === 'nxdomain' ? 'NXDOMAIN' : 'every query timed out';
    case 'tcp':
    case 'tls':
      return symptom.failure === 'untrusted' ? 'an untrusted chain' : symptom.failure;
    case 'http':
      return symptom.status !== null ? `HTTP ${symptom.status}` : (symptom.failure ?? 'a failure');
  }
}

/**
 * Findings after comparison with the control: a finding the control reproduces becomes `down` (same
 * layer and subject), an HTTP status the control gets too is dropped, the rest are kept as they are.
 */
export function applyControl(findings: readonly Finding[], control: Evidence): Finding[] {
  const out: Finding[] = [];
  for (const f of findings) {
    if (f.symptom === undefined) {
      out.push(f);
      continue;
    }
    const comparison = compare(f.symptom, control);
    if (comparison === 'explains') continue;
    if (comparison === 'differs') {
      out.push(f);
      continue;
    }
    out.push({
      verdict: 'down',
      layer: f.layer,
      confidence: CONFIDENCE.down,
      subject: f.subject,
      reason: `${f.reason}; the control saw the same (${describeSymptom(f.symptom)}): the service is failing, not blocked here`,
    });
  }
  return out;
}
