// Measures one target layer by layer (dns → tcp → tls → http), each address on its own, and returns its evidence and timing.
import { measureDns, type ResolverSpec } from '../measure/dns.js';
import { measureBulk, measureHttp } from '../measure/http.js';
import { bulkOf, httpSchemesOf, portOf, type HttpScheme } from '../../contract/target.js';
import { measureTcp } from '../measure/tcp.js';
import { measureTls } from '../measure/tls.js';
import { isBogon } from '../bogon.js';
import type { Deps } from '../deps.js';
import type { Clock } from '../../common/clock.js';
import type { BulkObservation, DnsObservation, Evidence, HttpObservation, TcpObservation, TlsObservation } from '../../contract/evidence.js';
import type { Target } from '../../contract/target.js';
import type { EngineOptions } from './options.js';
import type { RunLimits } from './limits.js';

export interface TargetEvidence {
  evidence: Evidence;
  timing: { dns: number; tcp: number; tls: number; http: number };
}

/** Addresses worth connecting to for a domain: every answer (first and late), no bogons, bounded per family. */
export function addressesOf(dns: DnsObservation, maxPerFamily: number): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  const add = (ip: string) => {
    if (isBogon(ip)) return;
    const list = ip.includes(':') ? v6 : v4;
    if (!list.includes(ip) && list.length < maxPerFamily) list.push(ip);
  };
  for (const q of dns.queries) {
    for (const ip of q.addresses) add(ip);
    for (const late of q.late) for (const ip of late.addresses) add(ip);
  }
  return [...v4, ...v6];
}

function allResolvers(options: EngineOptions): ResolverSpec[] {
  const list = [...options.resolvers];
  if (options.controlDoh) list.push({ kind: 'doh', url: options.controlDoh });
  return list;
}

/** The time from a layer's first step starting to its last step ending; layers overlap, each address moving on alone. */
class LayerSpan {
  #first = Infinity;
  #last = -Infinity;
  constructor(private readonly clock: Clock) {}

  async time<T>(step: () => Promise<T>): Promise<T> {
    this.#first = Math.min(this.#first, this.clock.monotonic());
    try {
      return await step();
    } finally {
      this.#last = Math.max(this.#last, this.clock.monotonic());
    }
  }

  get ms(): number {
    return this.#last >= this.#first ? Math.round((this.#last - this.#first) * 10) / 10 : 0;
  }
}

/** One address and port: its TCP connect, and the TLS handshake that followed it if it worked on a TLS port. */
interface Leg {
  tcp: TcpObservation;
  tls: TlsObservation | null;
}

/**
 * Measure one target. Each domain moves on as soon as its own DNS is done, and each address as soon
 * as its own connect is: an address the censor blackholes holds up nothing but itself. The evidence
 * is the same, in the same order, as if every layer had waited for the one before.
 */
export async function measureTarget(
  target: Target,
  options: EngineOptions,
  deps: Deps,
  limits: RunLimits,
): Promise<TargetEvidence> {
  const signal = options.signal;
  const step = { timeoutMs: options.timeoutMs, ...(signal ? { signal } : {}) };
  const span = { dns: new LayerSpan(deps.clock), tcp: new LayerSpan(deps.clock), tls: new LayerSpan(deps.clock), http: new LayerSpan(deps.clock) };
  const checkAbort = () => {
    if (signal?.aborted) throw signal.reason;
  };
  const tlsPorts = new Set(target.tls_ports);

  // tcp on one address and port, then tls with the target SNI if the connect worked on a TLS port.
  const leg = async (c: { ip: string; port: number; domain: string | null }): Promise<Leg> => {
    const tcp = await span.tcp.time(() =>
      limits.runConnect(c.ip, () => {
        checkAbort();
        return measureTcp(c, step, deps);
      }),
    );
    const domain = tcp.domain;
    if (tcp.failure !== null || domain === null || !tlsPorts.has(tcp.port)) return { tcp, tls: null };
    const tls = await span.tls.time(() =>
      limits.runHandshake(tcp.ip, () => {
        checkAbort();
        return measureTls(
          { ip: tcp.ip, port: tcp.port, sni: domain, domain },
          { ...step, trust: options.trust, neutralSni: options.neutralSni },
          deps,
        );
      }),
    );
    return { tcp, tls };
  };

  // http: one GET per domain and scheme (http:// on port 80 when the target connects to 80, https://
  // on 443 when it handshakes there), each over an address that got this far (no second resolution),
  // once all of the domain's legs are done, so that the address chosen does not depend on which
  // answered first.
  const expect = target.http;
  /** The address a request for `domain` over `scheme` goes to: one whose connect (and for https, validated handshake) worked. */
  const addressFor = (legs: Leg[], scheme: HttpScheme): string | undefined =>
    scheme === 'https'
      ? legs.find((l) => l.tls !== null && l.tls.port === 443 && l.tls.failure === null && l.tls.trusted === true)?.tls?.ip
      : legs.find((l) => l.tcp.port === 80 && l.tcp.failure === null)?.tcp.ip;
  const request = <T>(ip: string, run: () => Promise<T>): Promise<T> =>
    span.http.time(() =>
      limits.runHandshake(ip, () => {
        checkAbort();
        return run();
      }),
    );
  const httpOver = (domain: string, legs: Leg[], scheme: HttpScheme, path: string): Promise<HttpObservation> | null => {
    const ip = addressFor(legs, scheme);
    if (ip === undefined) return null;
    const http = { ...step, trust: options.trust, maxBodyBytes: options.maxBodyBytes };
    return request(ip, () => measureHttp({ url: `${scheme}://${domain}${path}`, ip, port: portOf(scheme), domain }, http, deps));
  };
  const bulkOver = (domain: string, legs: Leg[], scheme: HttpScheme, path: string): Promise<BulkObservation> | null => {
    const ip = addressFor(legs, scheme);
    if (ip === undefined) return null;
    const bulkOptions = { ...step, trust: options.trust, maxBodyBytes: options.bulk.maxBytes, readForMs: options.bulk.maxMs };
    return request(ip, () => measureBulk({ url: `${scheme}://${domain}${path}`, ip, port: portOf(scheme), domain }, bulkOptions, deps));
  };
  const pageSchemes = expect === null ? [] : httpSchemesOf(target);
  const bulk = options.bulk.enabled ? bulkOf(target) : null;

  // dns: every domain, every resolver, every query type; then that domain's addresses on each port.
  const domains = Promise.all(
    target.domains.map(async (domain) => {
      const dns = await span.dns.time(() =>
        limits.run(null, () => {
          checkAbort();
          return measureDns(
            domain,
            { ...step, resolvers: allResolvers(options), qtypes: options.qtypes, listenWindowMs: options.listenWindowMs },
            deps,
          );
        }),
      );
      const legs = await Promise.all(
        addressesOf(dns, options.maxAddressesPerDomain).flatMap((ip) => target.ports.map((port) => leg({ ip, port, domain: dns.domain }))),
      );
      const pages = expect === null ? [] : pageSchemes.map((scheme) => httpOver(dns.domain, legs, scheme, expect.path));
      const read = bulk !== null && bulk.domain === dns.domain ? bulkOver(dns.domain, legs, bulk.scheme, bulk.path) : null;
      const [http, bulkRead] = await Promise.all([Promise.all(pages), read]);
      return { dns, legs, http: http.filter((h): h is HttpObservation => h !== null), bulk: bulkRead };
    }),
  );
  // Fixed endpoints need no DNS: they are connected to at once.
  const endpoints = Promise.all(target.endpoints.flatMap((e) => e.ports.map((port) => leg({ ip: e.ip, port, domain: null }))));
  const [byDomain, endpointLegs] = await Promise.all([domains, endpoints]);

  const legs = [...byDomain.flatMap((d) => d.legs), ...endpointLegs];
  return {
    evidence: {
      dns: byDomain.map((d) => d.dns),
      tcp: legs.map((l) => l.tcp),
      tls: legs.flatMap((l) => (l.tls ? [l.tls] : [])),
      http: byDomain.flatMap((d) => d.http),
      ...(bulk !== null ? { bulk: byDomain.flatMap((d) => (d.bulk !== null ? [d.bulk] : [])) } : {}),
    },
    timing: { dns: span.dns.ms, tcp: span.tcp.ms, tls: span.tls.ms, http: span.http.ms },
  };
}
