// TCP rules for one subject and port: every trusted address failing the same way is tcp.reset/timeout/refused.
import type { TcpObservation } from '../../contract/evidence.js';
import type { Failure } from '../../contract/failure.js';
import { shortList, unique } from './address.js';
import { CONFIDENCE, conf } from './confidence.js';
import type { FindingVerdict } from '../../contract/verdict.js';
import type { Finding, PortResult } from './finding.js';
import { endpointSubject } from './address.js';

const BLOCKING: ReadonlyArray<{ failure: Failure; verdict: FindingVerdict; confidence: number; verb: string }> = [
  { failure: 'connection_reset', verdict: 'tcp.reset', confidence: CONFIDENCE.tcpReset, verb: 'was reset' },
  { failure: 'generic_timeout_error', verdict: 'tcp.timeout', confidence: CONFIDENCE.tcpTimeout, verb: 'timed out' },
  { failure: 'connection_refused', verdict: 'tcp.refused', confidence: CONFIDENCE.tcpRefused, verb: 'was refused' },
];

/**
 * Judge the connects of one subject (a domain's trusted addresses, or a fixed endpoint) on one port.
 * Mixed results with one success pass; a lack of route (network_unreachable) is left out when other
 * addresses were tried, since it means the probe has no IPv6, not that the target is blocked.
 */
export function judgeTcpPort(subject: string, domain: string | null, port: number, obs: readonly TcpObservation[]): PortResult {
  if (obs.length === 0) {
    return { findings: [], gaps: [{ subject, layer: 'tcp', reason: `${subject}: no TCP connect to port ${port} was recorded` }], passed: false };
  }
  if (obs.some((o) => o.failure === null)) {
    const partial = domain === null ? undefined : someAddressesFailed(subject, domain, port, obs);
    return { findings: partial === undefined ? [] : [partial], gaps: [], passed: true };
  }

  const routed = obs.filter((o) => o.failure !== 'network_unreachable');
  if (routed.length === 0) {
    return {
      findings: [],
      gaps: [{ subject, layer: 'tcp', reason: `${subject}: no route to any address on port ${port} (network_unreachable)` }],
      passed: false,
    };
  }
  const counted = BLOCKING.map((b) => ({ ...b, obs: routed.filter((o) => o.failure === b.failure) })).filter((b) => b.obs.length > 0);
  // Most frequent blocking failure; ties keep BLOCKING's order (reset, timeout, refused).
  const top = counted.reduce<(typeof counted)[number] | undefined>((best, b) => (best === undefined || b.obs.length > best.obs.length ? b : best), undefined);
  if (top === undefined) {
    const failures = unique(routed.map((o) => o.failure ?? 'unknown_failure'));
    return {
      findings: [],
      gaps: [{ subject, layer: 'tcp', reason: `${subject}: TCP connect to port ${port} failed with ${failures.join(', ')} at ${shortList(unique(routed.map((o) => o.ip)))}` }],
      passed: false,
    };
  }
  const ips = unique(top.obs.map((o) => o.ip));
  const others = routed.filter((o) => o.failure !== top.failure);
  const where =
    domain === null
      ? ''
      : others.length === 0
        ? ` at every address (${shortList(ips)})`
        : ` at ${ips.length} of ${unique(routed.map((o) => o.ip)).length} addresses (${shortList(ips)}; the others: ${unique(others.map((o) => o.failure ?? 'unknown_failure')).join(', ')})`;
  const finding: Finding = {
    verdict: top.verdict,
    layer: 'tcp',
    confidence: conf(top.confidence * (others.length > 0 ? CONFIDENCE.mixedFactor : 1)),
    subject,
    reason: `${subject}: TCP connect${domain === null ? '' : ` to port ${port}`} ${top.verb} (${top.failure})${where}`,
    symptom: { layer: 'tcp', domain, ip: domain === null ? (obs[0]?.ip ?? null) : null, port, failure: top.failure },
  };
  return { findings: [finding], gaps: [], passed: false };
}

const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/**
 * Some addresses of a domain connected and others of the same family failed the same blocking way:
 * a finding about those addresses (partial), while the domain passes on the ones that worked. A
 * family with no working address at all is left out (a probe without working IPv6 is not censored).
 */
function someAddressesFailed(subject: string, domain: string, port: number, obs: readonly TcpObservation[]): Finding | undefined {
  const ok = obs.filter((o) => o.failure === null);
  const families = new Set(ok.map((o) => familyOf(o.ip)));
  const failed = obs.filter((o) => o.failure !== null && families.has(familyOf(o.ip)));
  const counted = BLOCKING.map((b) => ({ ...b, obs: failed.filter((o) => o.failure === b.failure) })).filter((b) => b.obs.length > 0);
  const top = counted.reduce<(typeof counted)[number] | undefined>((best, b) => (best === undefined || b.obs.length > best.obs.length ? b : best), undefined);
  if (top === undefined) return undefined;
  const name = (o: TcpObservation) => `${domain} ${endpointSubject(o.ip, o.port)}`;
  const ips = unique(top.obs.map((o) => o.ip));
  const good = unique(ok.map((o) => o.ip));
  const all = unique(obs.filter((o) => families.has(familyOf(o.ip))).map((o) => o.ip));
  return {
    verdict: top.verdict,
    layer: 'tcp',
    confidence: conf(top.confidence * CONFIDENCE.partialFactor),
    subject,
    reason: `${subject}: TCP connect to port ${port} ${top.verb} (${top.failure}) at ${ips.length} of ${all.length} addresses (${shortList(ips)}) while ${shortList(good)} connected`,
    symptom: { layer: 'tcp', domain, ip: null, port, failure: top.failure },
    addresses: { failing: unique(top.obs.map(name)), working: unique(ok.map(name)) },
  };
}
