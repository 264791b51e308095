// The classifier: evidence (and optionally the control's evidence) → Decision. Pure: no sockets, no clock, no I/O.
import type { Evidence } from '../../contract/evidence.js';
import { httpSchemesOf, portOf, schemeOfUrl, type Endpoint, type Target } from '../../contract/target.js';
import type { Decision, Layer } from '../../contract/verdict.js';
import { endpointSubject, ipKey, nameKey, unique } from './address.js';
import { combine } from './combine.js';
import { CONFIDENCE } from './confidence.js';
import { judgeAttempts } from './attempts.js';
import { applyControl } from './control.js';
import { applyLine } from './line.js';
import { judgeDns } from './dns.js';
import type { Context, Finding, Gap } from './finding.js';
import { judgeHttp } from './http.js';
import { judgeTcpPort } from './tcp.js';
import { judgeTlsPort } from './tls.js';
import { DEFAULT_THROTTLE, judgeThrottle, type ThrottleThresholds } from './throttle.js';

export interface ClassifyOptions {
  /** The control prober's evidence for the same target (at the collector). */
  control?: Evidence;
  /** When a bulk rate or handshake counts as throttled against the baseline in the evidence; default DEFAULT_THROTTLE. */
  throttle?: ThrottleThresholds;
}

interface SubjectResult {
  findings: Finding[];
  gaps: Gap[];
  layers: Layer[];
}

function isEmpty(e: Evidence): boolean {
  return e.dns.length === 0 && e.tcp.length === 0 && e.tls.length === 0 && e.http.length === 0;
}

/** One domain through dns → tcp → tls → http; a layer is judged only over the paths the previous one left. */
function judgeDomain(domain: string, ctx: Context): SubjectResult {
  const { target, evidence } = ctx;
  const d = nameKey(domain);
  const out: SubjectResult = { findings: [], gaps: [], layers: ['dns'] };
  const collect = (r: { findings: Finding[]; gaps: Gap[] }): void => {
    out.findings.push(...r.findings);
    out.gaps.push(...r.gaps);
  };

  const dns = judgeDns(domain, ctx);
  collect(dns);
  if (dns.addresses.length === 0) return out;
  const addresses = new Set(dns.addresses);
  const ofDomain = (t: { domain: string | null; ip: string }): boolean =>
    t.domain !== null && nameKey(t.domain) === d && addresses.has(ipKey(t.ip));

  const tcpPassed = new Map<number, boolean>();
  for (const port of unique(target.ports)) {
    const r = judgeTcpPort(domain, domain, port, evidence.tcp.filter((t) => t.port === port && ofDomain(t)));
    collect(r);
    tcpPassed.set(port, r.passed);
    if (!out.layers.includes('tcp')) out.layers.push('tcp');
  }
  const tlsPassed = new Map<number, boolean>();
  for (const port of unique(target.tls_ports)) {
    // Only over a connect that worked (a TCP finding or gap explains the rest); a TLS port that is
    // not among the TCP ports is never measured.
    if (tcpPassed.get(port) !== true) continue;
    const privateCa = (target.private_ca ?? []).some((p) => nameKey(p) === d);
    const r = judgeTlsPort(domain, port, evidence.tls.filter((t) => t.port === port && ofDomain(t)), privateCa);
    collect(r);
    tlsPassed.set(port, r.passed);
    if (!out.layers.includes('tls')) out.layers.push('tls');
  }
  const expect = target.http;
  if (expect !== null) {
    // Each scheme on its own port: a block page or a reset on plain HTTP while HTTPS works (or the reverse).
    for (const scheme of httpSchemesOf(target)) {
      const port = portOf(scheme);
      const pathOk = tcpPassed.get(port) !== false && (scheme === 'http' || tlsPassed.get(443) !== false);
      if (!pathOk) continue;
      const obs = evidence.http.filter((h) => nameKey(h.domain) === d && h.port === port && schemeOfUrl(h.url) === scheme);
      collect(judgeHttp(domain, scheme, expect, obs, addresses));
      if (!out.layers.includes('http')) out.layers.push('http');
    }
  }
  return out;
}

/**
 * One fixed endpoint, judged per port over TCP only: endpoints may speak their own protocol (e.g.
 * Telegram's MTProto), so the measurement makes no TLS handshake with them.
 */
function judgeEndpoint(endpoint: Endpoint, ctx: Context): SubjectResult {
  const ip = ipKey(endpoint.ip);
  const out: SubjectResult = { findings: [], gaps: [], layers: ['tcp'] };
  for (const port of unique(endpoint.ports)) {
    const subject = endpointSubject(endpoint.ip, port);
    const obs = ctx.evidence.tcp.filter((t) => t.domain === null && ipKey(t.ip) === ip && t.port === port);
    const tcp = judgeTcpPort(subject, null, port, obs);
    out.findings.push(...tcp.findings);
    out.gaps.push(...tcp.gaps);
  }
  return out;
}

/**
 * Decide what the evidence of one target means. Every domain and fixed endpoint is judged layer by
 * layer; the target's verdict is the strongest finding over them (see combine). With
 * `options.control`, findings the control reproduces become `down`. A target measured twice in its
 * run (`evidence.first`) is judged on both attempts (see judgeAttempts), and the run's line quality
 * (`evidence.line`) tempers the verdicts packet loss can fake (see applyLine).
 */
export function classify(target: Target, evidence: Evidence, options: ClassifyOptions = {}): Decision {
  const second = classifyOnce(target, evidence, options);
  const first = evidence.first;
  const judged = first === undefined ? second : judgeAttempts(classifyOnce(target, { ...evidence, ...first, bulk: first.bulk ?? [] }, options), second);
  return applyLine(judged, evidence);
}

/** One attempt's evidence → its decision (the rules of every layer, the control's, throttling). */
function classifyOnce(target: Target, evidence: Evidence, options: ClassifyOptions): Decision {
  if (isEmpty(evidence)) {
    return { verdict: 'inconclusive', layer: null, confidence: CONFIDENCE.inconclusive, reason: `${target.id}: no evidence was recorded`, subjects: [] };
  }
  const ctx: Context = { target, evidence, control: options.control };
  const findings: Finding[] = [];
  const gaps: Gap[] = [];
  const passedSubjects: string[] = [];
  const layers = new Set<Layer>();
  const record = (subjects: string[], r: SubjectResult): void => {
    const judged = options.control === undefined ? r.findings : applyControl(r.findings, options.control);
    findings.push(...judged);
    gaps.push(...r.gaps);
    for (const l of r.layers) layers.add(l);
    if (judged.length === 0 && r.gaps.length === 0) passedSubjects.push(...subjects);
  };
  for (const domain of unique(target.domains.map(nameKey))) record([domain], judgeDomain(domain, ctx));
  for (const endpoint of target.endpoints) {
    record(endpoint.ports.map((p) => endpointSubject(endpoint.ip, p)), judgeEndpoint(endpoint, ctx));
  }
  findings.push(...judgeThrottle(target, evidence, options.throttle ?? DEFAULT_THROTTLE));
  const order: Layer[] = ['dns', 'tcp', 'tls', 'http'];
  return combine(findings, gaps, { subjects: passedSubjects, layers: order.filter((l) => layers.has(l)) });
}
