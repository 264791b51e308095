// Typed observations recorded by the measure/ modules: what happened on the wire, never a verdict.
import type { Failure, Operation } from './failure.js';

/** Common to every observation: a failure is data, from the closed set, with the step and raw text. */
export interface FailureFields {
  failure: Failure | null;
  operation: Operation | null;
  /** Raw error text kept beside the failure string (never used as a key). */
  error: string | null;
}

export type DnsQueryType = 'A' | 'AAAA';

/** How a DNS query was sent: the system resolver, a UDP resolver (host:port) or DoH (URL). */
export type ResolverKind = 'system' | 'udp' | 'doh';

/** How a resolver of resolv.conf asked directly is named in the evidence: by its place, never its address (it may be the volunteer's own). */
export function systemResolverLabel(index: number): string {
  return `system#${index + 1}`;
}

/**
 * How a configured UDP resolver that is not a well-known public one is named in the evidence: by its
 * place in the config, never its address (a volunteer's own resolver may run on their public address).
 */
export function ownResolverLabel(index: number): string {
  return `own#${index + 1}`;
}

/** Whether a resolver name in the evidence is the system's: getaddrinfo ("system") or one of resolv.conf's asked directly. */
export function isSystemResolver(name: string): boolean {
  return name === 'system' || name.startsWith('system#');
}

export interface DnsResponse {
  rcode: string;
  addresses: string[];
  /** CNAMEs seen on the way. */
  cnames: string[];
  ttl: number | null;
  /** Milliseconds after the query was sent. */
  after_ms: number;
}

export interface DnsQueryObservation extends FailureFields {
  domain: string;
  qtype: DnsQueryType;
  resolver: string;
  kind: ResolverKind;
  /** The first response's rcode (null when none arrived or for the system resolver on failure). */
  rcode: string | null;
  /** Addresses of the first response (for the system resolver: what getaddrinfo returned). */
  addresses: string[];
  ttl: number | null;
  rtt_ms: number | null;
  /** Every further response to the same query id received within the listening window. */
  late: DnsResponse[];
  /** Addresses of the answers that fall in a bogon range. */
  bogons: string[];
  /**
   * How many times the query was sent (UDP: resent while unanswered; system: asked again after a
   * temporary failure). More than one is a sign of a lossy line. Absent in older evidence and for DoH.
   */
  sends?: number;
}

export interface DnsObservation {
  domain: string;
  queries: DnsQueryObservation[];
}

export interface TcpObservation extends FailureFields {
  /** The domain this address came from, or null for a fixed endpoint. */
  domain: string | null;
  ip: string;
  port: number;
  rtt_ms: number | null;
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** SHA-256 of the DER certificate, upper-case hex with colons as Node prints it. */
  fingerprint256: string;
  /** SHA-256 of the DER SubjectPublicKeyInfo, base64 (the form used for pinning). */
  spki_sha256: string | null;
  serial: string;
  valid_from: string;
  valid_to: string;
  /** DNS names from subjectAltName. */
  san: string[];
}

export interface TlsHandshakeObservation extends FailureFields {
  sni: string | null;
  version: string | null;
  cipher: string | null;
  alpn: string | null;
  /** Leaf first. Empty when the handshake did not get as far as a certificate. */
  chain: CertificateInfo[];
  /** The chain validates against the trusted roots (Node's + NODE_EXTRA_CA_CERTS + extra CAs). */
  trusted: boolean | null;
  /** The leaf matches the SNI (checked even when untrusted). */
  hostname_ok: boolean | null;
  /** OpenSSL's verification code when untrusted, e.g. SELF_SIGNED_CERT_IN_CHAIN. */
  validation_error: string | null;
  rtt_ms: number | null;
}

export interface TlsObservation extends TlsHandshakeObservation {
  domain: string | null;
  ip: string;
  port: number;
  /** The same address with a neutral SNI, made when the target-SNI handshake was reset or timed out. */
  neutral: TlsHandshakeObservation | null;
}

export interface HttpObservation extends FailureFields {
  domain: string;
  url: string;
  ip: string;
  port: number;
  status: number | null;
  /** Selected response headers (lower-case names): server, location, content-type, content-length, via, x-… */
  headers: Record<string, string>;
  body_length: number | null;
  body_sha256: string | null;
  /** First bytes of the body as text (bounded), for block-page fingerprints. */
  body_head: string | null;
  title: string | null;
  rtt_ms: number | null;
}

/** Why a bounded read stopped: the whole body arrived, the size or time bound was reached, or it failed. */
export type BulkEnd = 'complete' | 'size' | 'time' | 'failure';

/** A bulk resource read for throughput: the HTTP observation plus how fast the body came. */
export interface BulkObservation extends HttpObservation {
  /** From the response headers to the end of the read. */
  body_ms: number | null;
  /** Body bytes per second over body_ms (null when nothing was read or no time passed). */
  rate_bps: number | null;
  ended: BulkEnd;
}

/**
 * The international canaries' figures in the same run, copied into every other target's evidence
 * so that a throttling verdict can be checked from the measurement alone.
 */
export interface Baseline {
  /** Ids of the canaries the figures come from. */
  canaries: string[];
  /** The best bulk rate a canary reached (bytes per second), null when none was read. */
  bulk_rate_bps: number | null;
  /** The fastest completed TLS handshake of a canary (ms), null when none completed. */
  tls_handshake_ms: number | null;
}

/** How much packet loss one run showed: none seen, some (verdicts carry a lower confidence), heavy (timeouts are not trusted). */
export type LineLoss = 'none' | 'some' | 'heavy';

/**
 * The volunteer's own line as the whole run showed it, copied into every target's evidence so that
 * the measurement alone supports its verdict. Loss shows as exchanges that worked only after a
 * retransmission: a TCP connect that took the kernel's SYN retransmission time, a DNS query
 * answered only after it was sent again. Silence (a blackhole, a resolver dropping a name) is not
 * counted: only what worked in the end.
 */
export interface LineQuality {
  /** TCP connects of the run that completed, and those of them that took at least SLOW_CONNECT_MS. */
  connects: number;
  slow_connects: number;
  /** DNS queries of the run that were answered, and those of them answered only after a resend. */
  dns_answered: number;
  dns_resent: number;
  loss: LineLoss;
  /**
   * A sign, seen on the canaries, that the line is walled off by a captive portal or an operator's
   * "top up your balance" page (null: none). Names no address.
   */
  portal: string | null;
}

/** What a target's first measurement found when it was measured again in the same run (the top level holds the second). */
export interface FirstAttempt {
  dns: DnsObservation[];
  tcp: TcpObservation[];
  tls: TlsObservation[];
  http: HttpObservation[];
  bulk?: BulkObservation[];
}

export interface Evidence {
  dns: DnsObservation[];
  tcp: TcpObservation[];
  tls: TlsObservation[];
  http: HttpObservation[];
  /** Bulk reads (targets and canaries that name a bulk resource, when the run reads them). */
  bulk?: BulkObservation[];
  /** The canaries' figures in the same run (not on canaries themselves). */
  baseline?: Baseline;
  /** The run's line quality (absent in older evidence). */
  line?: LineQuality;
  /**
   * The first attempt, when the target failed in a way packet loss can cause and was measured
   * again before it was judged: a censor fails it again, random loss rarely does.
   */
  first?: FirstAttempt;
}
