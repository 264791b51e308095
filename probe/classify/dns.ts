// DNS rules for one domain: injection, bogons, NXDOMAIN, inconsistent answers, timeouts; and the addresses left to trust.
import type { DnsQueryObservation, Evidence } from '../../contract/evidence.js';
import { ipKey, nameKey, sameAddressSet, shortList, unique } from './address.js';
import { CONFIDENCE } from './confidence.js';
import type { Context, Finding, Gap, LayerResult } from './finding.js';
import { handshakeValid } from './tls.js';
import { isSystemResolver } from '../../contract/evidence.js';

export interface DnsResult extends LayerResult {
  /** Addresses of the domain that no rule found tampered, in first-seen order. */
  addresses: string[];
}

const RESOLVER_ERRORS = new Set(['dns_servfail_error', 'dns_refused_error', 'dns_no_answer']);

export function queriesFor(evidence: Evidence, domain: string): DnsQueryObservation[] {
  const d = nameKey(domain);
  return evidence.dns.filter((o) => nameKey(o.domain) === d).flatMap((o) => o.queries);
}

export function isNx(q: DnsQueryObservation): boolean {
  return q.rcode === 'NXDOMAIN' || q.failure === 'dns_nxdomain_error';
}

export function bogonsOf(q: DnsQueryObservation): string[] {
  if (q.bogons.length > 0) return q.bogons;
  return q.failure === 'dns_bogon_error' ? q.addresses : [];
}

/** Addresses of the first answer that are not bogons (none when the query failed). */
export function usableAddresses(q: DnsQueryObservation): string[] {
  if (q.failure !== null && q.failure !== 'dns_bogon_error') return [];
  const bogons = new Set(bogonsOf(q).map(ipKey));
  return q.addresses.filter((a) => !bogons.has(ipKey(a)));
}

/** The resolver sent an answer (of any kind) rather than timing out or failing locally. */
function responded(q: DnsQueryObservation): boolean {
  return (
    q.rcode !== null || q.failure === null || isNx(q) || q.failure === 'dns_bogon_error' || RESOLVER_ERRORS.has(q.failure)
  );
}

function label(q: DnsQueryObservation): string {
  return `${q.qtype} via ${q.resolver}`;
}

function describeAnswer(rcode: string | null, addresses: readonly string[]): string {
  return addresses.length > 0 ? shortList(addresses) : (rcode ?? 'no answer');
}

function failureOf(q: DnsQueryObservation): string {
  return q.failure ?? (q.rcode !== null && q.rcode !== 'NOERROR' ? q.rcode : 'no address');
}

/** One domain's queries and the controls they are judged against. */
interface DnsCase {
  domain: string;
  ctx: Context;
  queries: DnsQueryObservation[];
  /** The usable addresses the control prober got for the domain. */
  controlAnswers: string[];
  /** The DoH queries that answered: the control inside the probe's own evidence when there are any. */
  doh: DnsQueryObservation[];
  useDoh: boolean;
  /** The queries judged against a control (all but DoH when DoH answered). */
  tested: DnsQueryObservation[];
  controlsFor(q: DnsQueryObservation): DnsQueryObservation[];
  controlAddressesFor(q: DnsQueryObservation): string[];
}

/** What the rules found so far; later rules read what earlier ones tainted and flagged. */
interface DnsFound {
  findings: Finding[];
  gaps: Gap[];
  /** Addresses judged forged (ipKey). */
  tainted: Set<string>;
  /** Addresses of late answers judged genuine (the forged answer came first). */
  genuineLate: string[];
  /** Resolvers with a finding. */
  flagged: Set<string>;
}

function dnsCase(domain: string, ctx: Context, queries: DnsQueryObservation[]): DnsCase {
  const controlAnswers = ctx.control === undefined ? [] : unique(queriesFor(ctx.control, domain).flatMap(usableAddresses));
  // The control inside the probe's own evidence: DoH when it answered, otherwise the other resolvers.
  const doh = queries.filter((q) => q.kind === 'doh' && responded(q));
  const useDoh = doh.length > 0;
  const controlsFor = (q: DnsQueryObservation): DnsQueryObservation[] =>
    useDoh ? (q.kind === 'doh' ? [] : doh) : queries.filter((c) => c.resolver !== q.resolver && responded(c));
  return {
    domain,
    ctx,
    queries,
    controlAnswers,
    doh,
    useDoh,
    tested: useDoh ? queries.filter((q) => q.kind !== 'doh') : queries,
    controlsFor,
    controlAddressesFor: (q) => unique([...controlsFor(q).flatMap(usableAddresses), ...controlAnswers].map(ipKey)),
  };
}

function add(found: DnsFound, f: Finding, resolver: string | null): void {
  if (resolver !== null) found.flagged.add(resolver);
  // One finding of a kind per resolver is enough (A and AAAA usually agree).
  if (found.findings.some((x) => x.verdict === f.verdict && x.reason === f.reason)) return;
  found.findings.push(f);
}

/**
 * Injection: one UDP query, two different answers. The answer the control does not confirm is the
 * forged one; without a control, the first (the injector sits closer than the resolver).
 */
function judgeInjection(c: DnsCase, found: DnsFound): void {
  const { domain } = c;
  for (const q of c.queries) {
    if (q.kind === 'system' || q.rcode === null) continue;
    const late = q.late.find((r) => r.rcode !== q.rcode || !sameAddressSet(r.addresses, q.addresses));
    if (late === undefined) continue;
    const control = new Set(c.controlAddressesFor(q));
    const firstConfirmed = q.addresses.some((a) => control.has(ipKey(a)));
    const lateConfirmed = late.addresses.some((a) => control.has(ipKey(a)));
    const forgedIsLate = firstConfirmed && !lateConfirmed;
    const forged = forgedIsLate ? late.addresses : q.addresses;
    for (const a of forged) found.tainted.add(ipKey(a));
    if (!forgedIsLate) found.genuineLate.push(...late.addresses);
    add(
      found,
      {
        verdict: 'dns.injected',
        layer: 'dns',
        confidence: CONFIDENCE.dnsInjected,
        subject: domain,
        reason:
          `${domain} ${label(q)}: two different answers to one query (${describeAnswer(q.rcode, q.addresses)}, ` +
          `then ${describeAnswer(late.rcode, late.addresses)} ${late.after_ms} ms after sending): an on-path injector raced the resolver`,
      },
      q.resolver,
    );
  }
}

/** Bogons: an answer in a private/reserved range, unless the DoH control gives the same (the domain's own record). */
function judgeBogons(c: DnsCase, found: DnsFound): void {
  const { domain } = c;
  for (const q of c.queries) {
    const bogons = bogonsOf(q);
    if (bogons.length === 0) continue;
    for (const a of bogons) found.tainted.add(ipKey(a));
    const keys = new Set(bogons.map(ipKey));
    if (c.useDoh && c.doh.some((d) => bogonsOf(d).some((a) => keys.has(ipKey(a))))) continue;
    add(
      found,
      {
        verdict: 'dns.bogon',
        layer: 'dns',
        confidence: CONFIDENCE.dnsBogon,
        subject: domain,
        reason: `${domain} ${label(q)}: answer in a bogon range (${shortList(bogons)})`,
        symptom: { layer: 'dns', kind: 'bogon', domain, addresses: bogons },
      },
      q.resolver,
    );
  }
}

/** NXDOMAIN from a tested resolver while its control answered. */
function judgeNxdomain(c: DnsCase, found: DnsFound): void {
  const { domain } = c;
  for (const q of c.tested) {
    if (!isNx(q)) continue;
    const answering = c.controlsFor(q).find((x) => usableAddresses(x).length > 0);
    if (answering === undefined) continue;
    add(
      found,
      {
        verdict: 'dns.nxdomain',
        layer: 'dns',
        confidence: c.useDoh ? CONFIDENCE.dnsNxdomainDoh : CONFIDENCE.dnsNxdomainPlain,
        subject: domain,
        reason: `${domain} ${label(q)}: NXDOMAIN while ${answering.resolver} answered ${shortList(usableAddresses(answering))}`,
        symptom: { layer: 'dns', kind: 'nxdomain', domain, addresses: [] },
      },
      q.resolver,
    );
  }
}

/** NXDOMAIN (or no data) from every resolver that answered, and no address anywhere. */
function judgeNxdomainEverywhere(c: DnsCase, found: DnsFound): void {
  const { domain, queries, ctx } = c;
  const anyAnswer = queries.some((q) => usableAddresses(q).length > 0);
  const responding = queries.filter(responded);
  if (anyAnswer || !queries.some(isNx) || !responding.every((q) => isNx(q) || q.failure === 'dns_no_answer')) return;
  const nxResolvers = unique(queries.filter(isNx).map((q) => q.resolver));
  const symptom = { layer: 'dns' as const, kind: 'nxdomain' as const, domain, addresses: [] };
  if (c.controlAnswers.length > 0) {
    add(
      found,
      {
        verdict: 'dns.nxdomain',
        layer: 'dns',
        confidence: CONFIDENCE.dnsNxdomainControl,
        subject: domain,
        reason: `${domain}: NXDOMAIN from every resolver here (${shortList(nxResolvers)}) while the control resolved ${shortList(c.controlAnswers)}`,
        symptom,
      },
      null,
    );
  } else if (c.useDoh) {
    // DoH agrees: the name may really not exist. Only the control can say more (NXDOMAIN there too → down).
    const controlNx = ctx.control !== undefined && queriesFor(ctx.control, domain).some(isNx);
    if (controlNx) {
      add(
        found,
        {
          verdict: 'dns.nxdomain',
          layer: 'dns',
          confidence: CONFIDENCE.dnsNxdomainEverywhere,
          subject: domain,
          reason: `${domain}: every resolver, DoH included (${shortList(nxResolvers)}), answered NXDOMAIN`,
          symptom,
        },
        null,
      );
    } else {
      found.gaps.push({
        subject: domain,
        layer: 'dns',
        reason: `${domain}: every resolver, DoH included (${shortList(nxResolvers)}), answered NXDOMAIN: the name may not exist`,
      });
    }
  } else {
    add(
      found,
      {
        verdict: 'dns.nxdomain',
        layer: 'dns',
        confidence: CONFIDENCE.dnsNxdomainEverywhere,
        subject: domain,
        reason: `${domain}: NXDOMAIN from every resolver (${shortList(nxResolvers)}) and no DoH answer to compare with`,
        symptom,
      },
      null,
    );
  }
}

/** Every query timed out. */
function judgeTimeout(c: DnsCase, found: DnsFound): void {
  const { domain, queries } = c;
  if (!queries.every((q) => q.failure === 'generic_timeout_error')) return;
  add(
    found,
    {
      verdict: 'dns.timeout',
      layer: 'dns',
      confidence: CONFIDENCE.dnsTimeout,
      subject: domain,
      reason: `${domain}: every DNS query timed out (${shortList(unique(queries.map((q) => q.resolver)))})`,
      symptom: { layer: 'dns', kind: 'timeout', domain, addresses: [] },
    },
    null,
  );
}

/**
 * Inconsistent answers: a tested resolver's addresses differ from the control's and none of them
 * completes a TLS handshake valid for the domain (a TCP connect when no TLS was measured) while a
 * control address does. A DNS answer whose address validates for the domain is consistent.
 * Resolvers with an earlier finding are skipped.
 */
/** Whether an address of the domain works: a TLS handshake valid for it (a TCP connect when no TLS was measured). */
function addressCheck(c: DnsCase): { tlsMeasured: boolean; works(ip: string): boolean } {
  const { domain, ctx } = c;
  const d = nameKey(domain);
  const tlsMeasured = ctx.evidence.tls.some((t) => t.domain !== null && nameKey(t.domain) === d);
  return {
    tlsMeasured,
    works: (ip: string): boolean =>
      tlsMeasured
        ? ctx.evidence.tls.some((t) => t.domain !== null && nameKey(t.domain) === d && ipKey(t.ip) === ip && handshakeValid(t))
        : ctx.evidence.tcp.some((t) => t.domain !== null && nameKey(t.domain) === d && ipKey(t.ip) === ip && t.failure === null),
  };
}

/**
 * A silent resolver: every resolver of the system (resolv.conf's, asked directly) timed out on every
 * query, getaddrinfo got no address, and another resolver answered an address that works. That is
 * dns.timeout, not inconsistent answers (getaddrinfo reports the silence as EAI_AGAIN, read as
 * SERVFAIL); a direct SERVFAIL or REFUSED is left to the inconsistency rule.
 */
function judgeSilentResolver(c: DnsCase, found: DnsFound): void {
  const { domain, queries, tainted } = { ...c, tainted: found.tainted };
  const direct = queries.filter((q) => isSystemResolver(q.resolver) && q.resolver !== 'system');
  if (direct.length === 0 || !direct.every((q) => q.failure === 'generic_timeout_error')) return;
  const viaGetaddrinfo = queries.filter((q) => q.resolver === 'system');
  if (viaGetaddrinfo.some((q) => usableAddresses(q).length > 0)) return;
  const { tlsMeasured, works } = addressCheck(c);
  const others = queries.filter((q) => !isSystemResolver(q.resolver) && usableAddresses(q).length > 0);
  const answers = unique(others.flatMap(usableAddresses).map(ipKey)).filter((a) => !tainted.has(a));
  const good = answers.find(works);
  if (good === undefined) return;
  const silent = unique(direct.map((q) => q.resolver));
  const system = viaGetaddrinfo.length > 0 ? `, and getaddrinfo failed (${unique(viaGetaddrinfo.map(failureOf)).join(', ')})` : '';
  for (const r of [...silent, ...unique(viaGetaddrinfo.map((q) => q.resolver))]) found.flagged.add(r);
  add(
    found,
    {
      verdict: 'dns.timeout',
      layer: 'dns',
      confidence: CONFIDENCE.dnsSilentResolver,
      subject: domain,
      reason:
        `${domain}: the system's resolver (${shortList(silent)}, asked directly) never answered (${unique(direct.map((q) => q.qtype)).join(', ')} timed out)${system} ` +
        `while ${unique(others.map((q) => q.resolver)).join(', ')} answered ${shortList(answers)}, and ${good} completed ${tlsMeasured ? `a TLS handshake valid for ${domain}` : 'a TCP connect'}`,
      symptom: { layer: 'dns', kind: 'timeout', domain, addresses: [] },
    },
    null,
  );
}

function judgeInconsistent(c: DnsCase, found: DnsFound): void {
  const { domain, tested, useDoh, doh } = c;
  const { tainted } = found;
  const { tlsMeasured, works } = addressCheck(c);
  const controlName = useDoh ? (doh[0]?.resolver ?? 'DoH') : 'the other resolvers';
  for (const resolver of unique(tested.map((q) => q.resolver))) {
    if (found.flagged.has(resolver)) continue;
    const own = tested.filter((q) => q.resolver === resolver);
    const first = own[0];
    if (first === undefined) continue;
    const control = new Set(c.controlAddressesFor(first).filter((a) => !tainted.has(a)));
    if (control.size === 0) continue;
    const good = [...control].find(works);
    if (good === undefined) continue;
    const mine = unique(own.flatMap(usableAddresses).map(ipKey)).filter((a) => !tainted.has(a));
    if (mine.length === 0) {
      // The resolver refused to give any address (SERVFAIL, REFUSED, empty answer) for a name the control resolves.
      const errors = own.filter((q) => q.failure !== null && RESOLVER_ERRORS.has(q.failure));
      if (errors.length === 0 || !own.every((q) => q.failure !== null && (RESOLVER_ERRORS.has(q.failure) || q.failure === 'generic_timeout_error'))) continue;
      add(
        found,
        {
          verdict: 'dns.inconsistent',
          layer: 'dns',
          confidence: CONFIDENCE.dnsResolverError,
          subject: domain,
          reason: `${domain} via ${resolver}: ${unique(errors.map(failureOf)).join(', ')} while ${controlName} answered ${shortList([...control])}, and ${good} completed ${tlsMeasured ? `a TLS handshake valid for ${domain}` : 'a TCP connect'}`,
        },
        resolver,
      );
      continue;
    }
    if (mine.every((a) => control.has(a)) || mine.some(works)) continue;
    for (const a of mine) if (!control.has(a)) tainted.add(a);
    add(
      found,
      {
        verdict: 'dns.inconsistent',
        layer: 'dns',
        confidence: tlsMeasured ? CONFIDENCE.dnsInconsistentTls : CONFIDENCE.dnsInconsistentTcp,
        subject: domain,
        reason:
          `${domain} via ${resolver}: answered ${shortList(mine)} where ${controlName} answered ${shortList([...control])}, ` +
          `and no ${resolver} address completed ${tlsMeasured ? `a TLS handshake valid for ${domain}` : 'a TCP connect'} while ${good} did`,
      },
      resolver,
    );
  }
}

/** The addresses no rule found tampered (first-seen order); none at all and no verdict is a gap. */
function trustedAddresses(c: DnsCase, found: DnsFound): string[] {
  const { domain, queries } = c;
  const bogonKeys = new Set(queries.flatMap(bogonsOf).map(ipKey));
  const addresses = unique([...queries.flatMap(usableAddresses), ...found.genuineLate].map(ipKey)).filter(
    (a) => !found.tainted.has(a) && !bogonKeys.has(a),
  );
  if (found.findings.length === 0 && found.gaps.length === 0 && addresses.length === 0) {
    const failures = unique(queries.map((q) => q.resolver)).map((r) => {
      const own = queries.filter((q) => q.resolver === r);
      return `${r}: ${unique(own.map(failureOf)).join('/')}`;
    });
    found.gaps.push({ subject: domain, layer: 'dns', reason: `${domain}: no resolver gave a usable answer (${shortList(failures, 4)})` });
  }
  return addresses;
}

/** The DNS rules for `domain`, in order; each later rule sees what the earlier ones tainted and flagged. */
export function judgeDns(domain: string, ctx: Context): DnsResult {
  const queries = queriesFor(ctx.evidence, domain);
  if (queries.length === 0) {
    return { findings: [], gaps: [{ subject: domain, layer: 'dns', reason: `${domain}: no DNS query was recorded` }], addresses: [] };
  }
  const c = dnsCase(domain, ctx, queries);
  const found: DnsFound = { findings: [], gaps: [], tainted: new Set(), genuineLate: [], flagged: new Set() };
  judgeInjection(c, found);
  judgeBogons(c, found);
  judgeNxdomain(c, found);
  judgeNxdomainEverywhere(c, found);
  judgeTimeout(c, found);
  judgeSilentResolver(c, found);
  judgeInconsistent(c, found);
  const addresses = trustedAddresses(c, found);
  return { findings: found.findings, gaps: found.gaps, addresses };
}
