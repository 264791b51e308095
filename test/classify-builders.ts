// Small builders of targets and evidence for the classifier tests: healthy runs, then one change per case.
import type {
  CertificateInfo,
  DnsObservation,
  DnsQueryObservation,
  DnsQueryType,
  DnsResponse,
  Evidence,
  HttpObservation,
  ResolverKind,
  TcpObservation,
  TlsHandshakeObservation,
  TlsObservation,
} from '../contract/evidence.js';
import type { Failure, Operation } from '../contract/failure.js';
import type { Target } from '../contract/target.js';

export interface Resolver {
  name: string;
  kind: ResolverKind;
}

// Names as the DNS measurement writes them. Only strings in evidence objects: nothing here sends a packet.
export const SYSTEM: Resolver = { name: 'system', kind: 'system' };
export const UDP: Resolver = { name: 'udp:8.8.8.8:53', kind: 'udp' };
/** The system's resolver from resolv.conf, asked directly (named by its place). */
export const SYSTEM_DIRECT: Resolver = { name: 'system#1', kind: 'udp' };
export const UDP2: Resolver = { name: 'udp:77.88.8.8:53', kind: 'udp' };
export const DOH: Resolver = { name: 'doh:https://1.1.1.1/dns-query', kind: 'doh' };

export function target(over: Partial<Target> & { id: string }): Target {
  return {
    name: over.id,
    category: 'social',
    domains: [],
    endpoints: [],
    ports: [443],
    tls_ports: [443],
    http: { path: '/', status: [200, 301, 302] },
    ...over,
  };
}

const OPERATION_OF: Record<string, Operation> = { dns: 'resolve', tcp: 'connect', tls: 'tls_handshake', http: 'http_request' };

function qtypeOf(ip: string): DnsQueryType {
  return ip.includes(':') ? 'AAAA' : 'A';
}

export function answer(domain: string, r: Resolver, addresses: string[], over: Partial<DnsQueryObservation> = {}): DnsQueryObservation {
  return {
    domain,
    qtype: addresses[0] !== undefined ? qtypeOf(addresses[0]) : 'A',
    resolver: r.name,
    kind: r.kind,
    rcode: 'NOERROR',
    addresses,
    ttl: r.kind === 'system' ? null : 300,
    rtt_ms: 12,
    late: [],
    bogons: [],
    failure: null,
    operation: null,
    error: null,
    ...over,
  };
}

export function dnsFailure(domain: string, r: Resolver, failure: Failure, over: Partial<DnsQueryObservation> = {}): DnsQueryObservation {
  const rcode: Record<string, string> = {
    dns_nxdomain_error: 'NXDOMAIN',
    dns_servfail_error: 'SERVFAIL',
    dns_refused_error: 'REFUSED',
    dns_no_answer: 'NOERROR',
  };
  return answer(domain, r, [], {
    rcode: r.kind === 'system' ? null : (rcode[failure] ?? null), // the system resolver reports no rcode on failure
    ttl: null,
    rtt_ms: failure === 'generic_timeout_error' ? null : 15,
    failure,
    operation: OPERATION_OF['dns'] as Operation,
    error: failure,
    ...over,
  });
}

export function late(addresses: string[], after_ms = 40, rcode = 'NOERROR'): DnsResponse {
  return { rcode, addresses, cnames: [], ttl: 300, after_ms };
}

export function dnsObs(domain: string, ...queries: DnsQueryObservation[]): DnsObservation {
  return { domain, queries };
}

export function tcp(domain: string | null, ip: string, port: number, failure: Failure | null = null): TcpObservation {
  return {
    domain,
    ip,
    port,
    rtt_ms: failure === null ? 30 : null,
    failure,
    operation: failure === null ? null : 'connect',
    error: failure,
  };
}

let serial = 0;
/** A certificate; the fingerprint is made up per call unless given (never one of the listed CAs). */
export function cert(subject: string, issuer: string, over: Partial<CertificateInfo> = {}): CertificateInfo {
  serial += 1;
  const hex = serial.toString(16).toUpperCase().padStart(64, 'A');
  return {
    subject,
    issuer,
    fingerprint256: (hex.match(/../g) ?? []).join(':'),
    spki_sha256: null,
    serial: serial.toString(16),
    valid_from: '2025-01-01T00:00:00.000Z',
    valid_to: '2026-01-01T00:00:00.000Z',
    san: [],
    ...over,
  };
}

export function publicChain(domain: string): CertificateInfo[] {
  return [
    cert(`CN=${domain}`, 'C=US, O=Google Trust Services, CN=WR2', { san: [domain] }),
    cert('C=US, O=Google Trust Services, CN=WR2', 'C=US, O=Google Trust Services LLC, CN=GTS Root R1'),
  ];
}

export function handshake(sni: string | null, over: Partial<TlsHandshakeObservation> = {}): TlsHandshakeObservation {
  const ok = over.failure === undefined || over.failure === null;
  return {
    sni,
    version: ok ? 'TLSv1.3' : null,
    cipher: ok ? 'TLS_AES_128_GCM_SHA256' : null,
    alpn: ok ? 'h2' : null,
    chain: ok && sni !== null ? publicChain(sni) : [],
    trusted: ok ? true : null,
    hostname_ok: ok ? true : null,
    validation_error: null,
    rtt_ms: ok ? 45 : null,
    failure: null,
    operation: ok ? null : 'tls_handshake',
    error: ok ? null : (over.failure ?? null),
    ...over,
  };
}

export function tls(domain: string | null, ip: string, port: number, over: Partial<TlsObservation> = {}): TlsObservation {
  const sni = over.sni !== undefined ? over.sni : domain;
  return { ...handshake(sni, over), domain, ip, port, neutral: null, ...over };
}

/** A target-SNI handshake that failed, with the neutral-SNI retry: 'ok', a failure, or not made (null). */
export function tlsBlocked(
  domain: string | null,
  ip: string,
  port: number,
  failure: Failure,
  neutral: 'ok' | Failure | null,
  sni: string | null = domain,
): TlsObservation {
  const retry =
    neutral === null ? null : neutral === 'ok' ? handshake('www.example.com', { hostname_ok: false }) : handshake('www.example.com', { failure: neutral });
  return tls(domain, ip, port, { sni, failure, neutral: retry });
}

/** A handshake that completed with an untrusted chain, recorded either way the measurement may do it. */
export function tlsUntrusted(
  domain: string,
  ip: string,
  port: number,
  chain: CertificateInfo[],
  form: 'flags' | 'failure' = 'flags',
  validation_error = 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
): TlsObservation {
  if (form === 'flags') return tls(domain, ip, port, { chain, trusted: false, hostname_ok: true, validation_error });
  return tls(domain, ip, port, {
    failure: 'ssl_unknown_authority',
    chain,
    trusted: false,
    hostname_ok: null,
    validation_error,
    version: 'TLSv1.3',
  });
}

export function http(domain: string, ip: string, status: number | null, over: Partial<HttpObservation> = {}): HttpObservation {
  return {
    domain,
    url: `https://${domain}/`,
    ip,
    port: 443,
    status,
    headers: status === null ? {} : { 'content-type': 'text/html; charset=utf-8' },
    body_length: status === null ? null : 250_000,
    body_sha256: null,
    body_head: status === null ? null : '<!DOCTYPE html><html><head><title>Service</title></head>',
    title: status === null ? null : 'Service',
    rtt_ms: status === null ? null : 120,
    failure: null,
    operation: null,
    error: null,
    ...over,
  };
}

export function httpFailed(domain: string, ip: string, failure: Failure, operation: Operation = 'http_request'): HttpObservation {
  return http(domain, ip, null, { failure, operation, error: failure });
}

export function emptyEvidence(): Evidence {
  return { dns: [], tcp: [], tls: [], http: [] };
}

/** Two made-up addresses per domain: one IPv4, one IPv6 (documentation ranges are bogons, so avoid them here). */
export function addressesOf(domain: string): string[] {
  let h = 0;
  for (const c of domain) h = (h * 31 + c.charCodeAt(0)) % 200;
  return [`31.13.${h + 20}.${(h % 50) + 10}`, `2a03:2880:f1${(h % 90) + 10}::${h + 1}`];
}

/**
 * Evidence of a run where everything works: system resolver and DoH agree; every address connects on
 * every port; TLS validates on the TLS ports; HTTP answers 200 on the first address; fixed endpoints
 * connect.
 */
export function healthy(t: Target, ips: Record<string, string[]> = {}): Evidence {
  const e = emptyEvidence();
  for (const domain of t.domains) {
    const addrs = ips[domain] ?? addressesOf(domain);
    const v4 = addrs.filter((a) => !a.includes(':'));
    const v6 = addrs.filter((a) => a.includes(':'));
    const queries: DnsQueryObservation[] = [];
    for (const r of [SYSTEM, DOH]) {
      if (v4.length > 0) queries.push(answer(domain, r, v4));
      if (v6.length > 0) queries.push(answer(domain, r, v6));
    }
    e.dns.push(dnsObs(domain, ...queries));
    for (const port of t.ports) for (const ip of addrs) e.tcp.push(tcp(domain, ip, port));
    for (const port of t.tls_ports) for (const ip of addrs) e.tls.push(tls(domain, ip, port));
    const first = addrs[0];
    if (t.http !== null && first !== undefined) {
      // http:// on 80 when the target connects there, https:// on 443 when it handshakes there.
      if (t.ports.includes(80)) e.http.push(http(domain, first, 200, { url: `http://${domain}/`, port: 80 }));
      if (t.tls_ports.includes(443)) e.http.push(http(domain, first, 200));
    }
  }
  // Fixed endpoints are measured over TCP only.
  for (const ep of t.endpoints) for (const port of ep.ports) e.tcp.push(tcp(null, ep.ip, port));
  return e;
}

/** The same evidence with some observations of one kind replaced. */
export function change<K extends 'dns' | 'tcp' | 'tls' | 'http'>(
  e: Evidence,
  kind: K,
  pick: (o: Evidence[K][number]) => boolean,
  to: (o: Evidence[K][number]) => Evidence[K][number],
): Evidence {
  const list = e[kind] as Array<Evidence[K][number]>;
  return { ...e, [kind]: list.map((o) => (pick(o) ? to(o) : o)) };
}

/** Replace every DNS observation of a domain. */
export function withDns(e: Evidence, domain: string, ...queries: DnsQueryObservation[]): Evidence {
  return { ...e, dns: [...e.dns.filter((o) => o.domain !== domain), dnsObs(domain, ...queries)] };
}

export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
