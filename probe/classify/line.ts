// The volunteer's own line as one run shows it (packet loss, a captive portal), and how it tempers the verdicts that loss can fake.
import { isSystemResolver, type Evidence, type HttpObservation, type LineLoss, type LineQuality } from '../../contract/evidence.js';
import type { Target } from '../../contract/target.js';
import { isBlocked, type Decision, type Verdict } from '../../contract/verdict.js';
import { isBogon } from '../bogon.js';
import { redactAddresses } from '../redact.js';
import { nameKey } from './address.js';
import { conf, CONFIDENCE } from './confidence.js';

/**
 * A completed connect this slow had its SYN (or the SYN-ACK) lost and sent again: Linux retransmits
 * an unanswered SYN after 1 s. A real round trip, even over a satellite, stays well below.
 */
export const SLOW_CONNECT_MS = 1000;

/**
 * Share of the run's completed exchanges (connects and answered DNS queries) that needed a
 * retransmission. Each exchange is two packets, so a share s means a loss of about 1 − √(1 − s):
 * 3 % ≈ 1.5 % loss, 25 % ≈ 13 % loss.
 */
export const LOSS_SOME_SHARE = 0.03;
export const LOSS_HEAVY_SHARE = 0.25;
/** Fewer retransmitted exchanges than this is no sign of loss, whatever the share (one slow server is not a lossy line). */
export const LOSS_MIN_EVENTS = 2;

/**
 * The verdicts packet loss can produce on its own: a lost query, SYN, ClientHello or request looks
 * like silence. A target with one of them is measured again when the run shows loss.
 */
export const LOSS_PRONE: ReadonlySet<Verdict> = new Set<Verdict>(['dns.inconsistent', 'dns.timeout', 'tcp.timeout', 'tls.timeout', 'tls.eof', 'http.timeout']);

/**
 * The verdicts a lossy line tempers: the loss-prone ones, and throttling (a bulk read through heavy
 * loss crawls whatever the censor does, and its rate swings too much to compare with the canary's).
 */
const TEMPERED: ReadonlySet<Verdict> = new Set<Verdict>([...LOSS_PRONE, 'http.throttled']);

export function isLossProne(d: Decision): boolean {
  return LOSS_PRONE.has(d.verdict);
}

export interface LineRun {
  target: Target;
  evidence: Evidence;
}

function lossOf(events: number, trials: number): LineLoss {
  if (trials === 0 || events < LOSS_MIN_EVENTS) return 'none';
  const share = events / trials;
  if (share >= LOSS_HEAVY_SHARE) return 'heavy';
  return share >= LOSS_SOME_SHARE ? 'some' : 'none';
}

/** The host a redirect points to, as text without addresses ("another address" when it is one). */
function redirectHost(location: string): string | null {
  try {
    return nameKey(new URL(location).hostname);
  } catch {
    return null;
  }
}

/** Two names of the same site: one is the other, or they share their last two labels (wikipedia.org and www.wikipedia.org). */
function sameSite(a: string, b: string): boolean {
  const tail = (n: string) => nameKey(n).split('.').slice(-2).join('.');
  return tail(a) === tail(b);
}

function redirectAway(t: Target, h: HttpObservation): string | null {
  if (h.status === null || h.status < 300 || h.status > 399) return null;
  const location = h.headers.location;
  if (location === undefined) return null;
  const host = redirectHost(location);
  if (host !== null && host !== '' && !host.includes('[') && t.domains.some((d) => sameSite(d, host))) return null;
  const shown = host === null || host.includes('[') || host === '' ? 'another address' : redactAddresses(host);
  return `plain HTTP to ${h.domain} was redirected to ${shown} (HTTP ${h.status})`;
}

/**
 * A sign on the canaries that a portal walls the line off: a canary's page redirected to another
 * host; every canary name resolved by the system to one and the same bogon address; or the same
 * untrusted certificate presented for different canary names. Null when none shows.
 */
export function portalSign(canaries: ReadonlyArray<LineRun>): string | null {
  for (const c of canaries) {
    for (const h of c.evidence.http) {
      const sign = redirectAway(c.target, h);
      if (sign !== null) return sign;
    }
  }
  // The system's answers (getaddrinfo and resolv.conf's resolvers asked directly) that carry addresses.
  const systemAnswers = canaries.flatMap((c) => c.evidence.dns.flatMap((o) => o.queries)).filter((q) => isSystemResolver(q.resolver) && q.addresses.length > 0);
  const named = new Set(systemAnswers.map((q) => nameKey(q.domain)));
  const onlyBogons = systemAnswers.every((q) => q.addresses.every((a) => q.bogons.includes(a) || isBogon(a)));
  if (named.size >= 2 && onlyBogons && new Set(systemAnswers.flatMap((q) => q.addresses)).size === 1) {
    return `every canary name (${named.size}) resolved to one and the same private address`;
  }
  const leaves = canaries.flatMap((c) => c.evidence.tls.filter((t) => t.trusted === false && t.chain.length > 0 && t.sni !== null));
  const names = new Set(leaves.map((t) => nameKey(t.sni as string)));
  const prints = new Set(leaves.map((t) => t.chain[0]!.fingerprint256));
  if (names.size >= 2 && prints.size === 1) {
    const issuer = redactAddresses(leaves[0]!.chain[0]!.issuer);
    return `HTTPS to ${names.size} canary names presented one and the same untrusted certificate (issuer ${issuer})`;
  }
  return null;
}

/** The line quality of a run, from every target's evidence (first attempts included) and the canaries' portal signs. */
export function assessLine(runs: ReadonlyArray<LineRun>): LineQuality {
  let connects = 0;
  let slow = 0;
  let answered = 0;
  let resent = 0;
  for (const r of runs) {
    for (const e of [r.evidence, ...(r.evidence.first !== undefined ? [r.evidence.first] : [])]) {
      for (const t of e.tcp) {
        if (t.failure !== null || t.rtt_ms === null) continue;
        connects++;
        if (t.rtt_ms >= SLOW_CONNECT_MS) slow++;
      }
      for (const o of e.dns) {
        for (const q of o.queries) {
          if (q.kind === 'doh' || q.rcode === null && q.failure !== null) continue;
          answered++;
          if ((q.sends ?? 1) > 1) resent++;
        }
      }
    }
  }
  return {
    connects,
    slow_connects: slow,
    dns_answered: answered,
    dns_resent: resent,
    loss: lossOf(slow + resent, connects + answered),
    portal: portalSign(runs.filter((r) => r.target.category === 'canary')),
  };
}

function lossText(line: LineQuality): string {
  return (
    `the line lost packets in this run (${line.slow_connects} of ${line.connects} connects and ${line.dns_resent} of ` +
    `${line.dns_answered} DNS answers needed a retransmission)`
  );
}

/** Every observation at `layer` failed, in every attempt recorded (the censor's silence is total; loss leaves some through). */
function failedEverywhere(evidence: Evidence, layer: Decision['layer']): boolean {
  const attempts = [evidence, ...(evidence.first !== undefined ? [evidence.first] : [])];
  const pick = (e: Evidence | NonNullable<Evidence['first']>) =>
    layer === 'tcp' ? e.tcp : layer === 'tls' ? e.tls : layer === 'http' ? e.http : [];
  return evidence.first !== undefined && attempts.every((e) => pick(e).length > 0 && pick(e).every((o) => o.failure !== null));
}

/**
 * A block loss can fake, judged on a line that lost packets: with some loss it stands with a lower
 * confidence; with heavy loss it becomes inconclusive, unless the target was measured twice and every
 * observation at the failing layer failed both times (a blackhole stays one on a bad line).
 */
export function applyLine(d: Decision, evidence: Evidence): Decision {
  const line = evidence.line;
  if (line === undefined || line.loss === 'none' || !isBlocked(d.verdict) || !TEMPERED.has(d.verdict)) return d;
  if (line.loss === 'some') {
    return { ...d, confidence: conf(d.confidence * CONFIDENCE.lineSomeLossFactor), reason: `${d.reason}; ${lossText(line)}` };
  }
  if (d.layer !== 'dns' && d.verdict !== 'http.throttled' && failedEverywhere(evidence, d.layer)) {
    return {
      ...d,
      confidence: conf(d.confidence * CONFIDENCE.lineHeavyLossFactor),
      reason: `${d.reason}; ${lossText(line)}, but every ${d.layer} attempt of the target failed in both measurements`,
    };
  }
  const { scope: _scope, working: _working, ...rest } = d;
  return {
    ...rest,
    verdict: 'inconclusive',
    layer: null,
    confidence: CONFIDENCE.inconclusive,
    reason: `${lossText(line)}: a ${d.verdict} cannot be told from loss; the target's own finding was ${d.verdict}: ${d.reason}`,
  };
}

/** What a judged run says about the line (for `status` and the terminal): its loss, and the portal sign when the run is offline behind one. */
export interface RunLine {
  loss: LineLoss;
  portal: string | null;
}

export function lineOfRun(measurements: ReadonlyArray<{ verdict: Decision; evidence: Evidence }>): RunLine | null {
  const line = measurements.find((m) => m.evidence.line !== undefined)?.evidence.line;
  if (line === undefined) return null;
  const offline = measurements.length > 0 && measurements.every((m) => m.verdict.verdict === 'offline');
  return { loss: line.loss, portal: offline ? line.portal : null };
}

/** One line for a person: what the run showed about their own line, or null when it looked clean. */
export function describeRunLine(line: RunLine | null): string | null {
  if (line === null) return null;
  if (line.portal !== null) {
    return `behind a captive portal or an operator's wall (${line.portal}): every verdict is offline; log in or top up, then measure again`;
  }
  if (line.loss === 'heavy') return 'heavy packet loss on this line: timeouts were not counted as blocks (inconclusive)';
  if (line.loss === 'some') return 'some packet loss on this line: targets that failed were measured again, blocks carry a lower confidence';
  return null;
}
