// The TLS measurement: a handshake with the target's SNI (and, when it is cut, with a neutral SNI), keeping the peer chain.
//
// Certificate policy: the handshake is made with rejectUnauthorized:false so the peer chain is always
// recorded. A chain that does not validate is NOT a handshake failure: `failure` stays null and the
// evidence is `trusted: false` + `validation_error` (OpenSSL's code, e.g.
// UNABLE_TO_GET_ISSUER_CERT_LOCALLY) and, for a certificate that does not name the SNI,
// `hostname_ok: false`. The classifier reads those fields to decide interception. `trusted` is about
// the chain only (the hostname is checked separately, even on untrusted chains).
//
// Failures of the handshake itself: a reset → connection_reset, the peer closing (FIN) →
// eof_error, no answer within timeoutMs → generic_timeout_error, a TLS alert or protocol error →
// ssl_failed_handshake. After connection_reset, eof_error or generic_timeout_error at the handshake,
// a second handshake with `neutralSni` goes to the same ip:port and is kept in `neutral`.
import { createHash, X509Certificate } from 'node:crypto';
import type net from 'node:net';
import tls from 'node:tls';
import type { Deps } from '../deps.js';
import type { CertificateInfo, TlsHandshakeObservation, TlsObservation } from '../../contract/evidence.js';
import type { Failure } from '../../contract/failure.js';
import { classifyError, errorTree, rawError } from './failure.js';
import type { TrustStore } from '../trust.js';
import { checkTimeout, startDeadline, type Deadline } from './deadline.js';
import { dialWithin } from './tcp.js';

export interface TlsEndpoint {
  ip: string;
  port: number;
  /** The server name sent in the ClientHello; null sends none. */
  sni: string | null;
  /** The domain the address came from, or null for a fixed endpoint. */
  domain: string | null;
}

export interface TlsOptions {
  /** Timeout of each step (connect, handshake) in ms. */
  timeoutMs: number;
  trust: TrustStore;
  /** A name no censor filters (e.g. "example.org"), used for the retry that separates SNI from IP blocking. */
  neutralSni: string;
  /** ALPN protocols offered, e.g. ["h2", "http/1.1"]; none when omitted. */
  alpn?: string[];
  /** Aborting rejects with `signal.reason` after every socket is destroyed. */
  signal?: AbortSignal;
}

/** The peer closed the connection (FIN) before the handshake completed. */
export class HandshakeEofError extends Error {
  readonly code = 'ERR_SOCKET_CLOSED';
  constructor(cause?: unknown) {
    super('the peer closed the connection during the TLS handshake', cause === undefined ? undefined : { cause });
    this.name = 'HandshakeEofError';
  }
}

/** Handshake failures after which the same address is tried again with the neutral SNI. */
const RETRY_WITH_NEUTRAL_SNI: ReadonlySet<Failure> = new Set(['connection_reset', 'eof_error', 'generic_timeout_error']);

/** classifyError for the handshake, with any other OpenSSL protocol error or alert as ssl_failed_handshake. */
export function classifyTlsError(err: unknown): Failure {
  const failure = classifyError('tls_handshake', err);
  if (failure !== 'unknown_failure') return failure;
  const ssl = errorTree(err).some((node) => {
    const code = (node as { code?: unknown } | null)?.code;
    return typeof code === 'string' && code.startsWith('ERR_SSL_');
  });
  return ssl ? 'ssl_failed_handshake' : failure;
}

const noop = () => undefined;

/**
 * Run a client handshake over an established TCP socket, bounded by `deadline`. Resolves with the
 * secure socket (an error listener is attached, the caller owns it); rejects with the handshake's error
 * (a FIN from the peer becomes a HandshakeEofError) or the deadline's reason, after destroying both
 * sockets.
 */
export function secureHandshake(
  raw: net.Socket,
  options: Omit<tls.ConnectionOptions, 'socket'>,
  deadline: Deadline,
): Promise<tls.TLSSocket> {
  const { signal } = deadline;
  raw.on('error', noop);
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      raw.destroy();
      reject(signal.reason);
      return;
    }
    const socket = tls.connect({ ...options, socket: raw });
    socket.on('error', noop);
    let peerClosed = false;
    const cleanup = () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('secureConnect', onSecure);
      socket.removeListener('error', onError);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onClose);
    };
    const fail = (err: unknown) => {
      cleanup();
      socket.destroy();
      raw.destroy();
      reject(err);
    };
    const onAbort = () => fail(signal.reason);
    const onEnd = () => {
      peerClosed = true;
    };
    const onError = (err: Error) => fail(peerClosed ? new HandshakeEofError(err) : err);
    const onClose = () => fail(new HandshakeEofError());
    const onSecure = () => {
      cleanup();
      resolve(socket);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', onSecure);
    socket.on('error', onError);
    socket.once('end', onEnd);
    socket.once('close', onClose);
  });
}

/** "C=KZ\nCN=Qaznet Trust Network" → "C=KZ, CN=Qaznet Trust Network". */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

function isoDate(text: string): string {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? text : new Date(ms).toISOString();
}

/** The DNS names of a subjectAltName string as Node prints it ('DNS:a, DNS:"b, c", IP Address:…'). */
export function sanDnsNames(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const names: string[] = [];
  if (!subjectAltName.includes('"')) {
    // Node quotes every value holding a comma or a quote, so without quotes ", " only separates entries.
    // (Certificates of big sites name a hundred hosts or more: this avoids a regex match per name.)
    for (const entry of subjectAltName.split(', ')) if (entry.startsWith('DNS:')) names.push(entry.slice(4));
    return names;
  }
  for (const m of subjectAltName.matchAll(/(?:^|, )DNS:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const value = m[1] ?? '';
    names.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return names;
}

/** What we keep of one certificate (DER). */
export function describeCertificate(der: Buffer): CertificateInfo {
  const x = new X509Certificate(der);
  let spki: string | null;
  try {
    const key = x.publicKey.export({ type: 'spki', format: 'der' });
    spki = createHash('sha256').update(key).digest('base64');
  } catch {
    spki = null;
  }
  return {
    subject: oneLine(x.subject),
    issuer: oneLine(x.issuer),
    fingerprint256: x.fingerprint256,
    spki_sha256: spki,
    serial: x.serialNumber,
    valid_from: isoDate(x.validFrom),
    valid_to: isoDate(x.validTo),
    san: sanDnsNames(x.subjectAltName),
  };
}

/** The peer chain, leaf first, following issuerCertificate until a self-issued certificate. */
export function peerChain(socket: tls.TLSSocket): CertificateInfo[] {
  const chain: CertificateInfo[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(describeCertificate(cert.raw));
    const issuer: tls.DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (issuer === undefined || issuer === cert) break;
    cert = issuer;
  }
  return chain;
}

function authorizationCode(socket: tls.TLSSocket): string | null {
  if (socket.authorized) return null;
  // Typed as Error, but Node stores OpenSSL's code string here.
  const value: unknown = socket.authorizationError;
  if (typeof value === 'string') return value;
  if (value instanceof Error) return (value as { code?: string }).code ?? value.message;
  return null;
}

function emptyHandshake(sni: string | null): TlsHandshakeObservation {
  return {
    sni,
    version: null,
    cipher: null,
    alpn: null,
    chain: [],
    trusted: null,
    hostname_ok: null,
    validation_error: null,
    rtt_ms: null,
    failure: null,
    operation: null,
    error: null,
  };
}

/** One TCP connection and one handshake with `sni`. Throws only the caller's abort reason. */
async function handshake(
  ip: string,
  port: number,
  sni: string | null,
  options: TlsOptions,
  deps: Deps,
): Promise<TlsHandshakeObservation> {
  const obs = emptyHandshake(sni);
  const connect = startDeadline('connect', options.timeoutMs, options.signal);
  let raw: net.Socket;
  try {
    raw = await dialWithin(deps.network, ip, port, connect);
  } catch (err) {
    if (connect.cancelled()) throw options.signal?.reason;
    return { ...obs, failure: classifyError('connect', err), operation: 'connect', error: rawError(err) };
  } finally {
    connect.dispose();
  }

  const step = startDeadline('tls_handshake', options.timeoutMs, options.signal);
  const started = deps.clock.monotonic();
  let socket: tls.TLSSocket;
  try {
    socket = await secureHandshake(
      raw,
      {
        ...(sni !== null ? { servername: sni } : {}),
        secureContext: options.trust.secureContext(),
        rejectUnauthorized: false,
        // `trusted` is about the chain; the hostname is checked on its own below.
        checkServerIdentity: () => undefined,
        ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
      },
      step,
    );
  } catch (err) {
    if (step.cancelled()) throw options.signal?.reason;
    return { ...obs, failure: classifyTlsError(err), operation: 'tls_handshake', error: rawError(err) };
  } finally {
    step.dispose();
  }
  const rtt = deps.clock.monotonic() - started;
  try {
    const leaf = socket.getPeerCertificate();
    return {
      ...obs,
      version: socket.getProtocol(),
      cipher: socket.getCipher()?.name ?? null,
      alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
      chain: peerChain(socket),
      trusted: socket.authorized,
      validation_error: authorizationCode(socket),
      hostname_ok: sni !== null && leaf.raw ? tls.checkServerIdentity(sni, leaf) === undefined : null,
      rtt_ms: rtt,
    };
  } finally {
    socket.destroy();
    raw.destroy();
  }
}

export async function measureTls(endpoint: TlsEndpoint, options: TlsOptions, deps: Deps): Promise<TlsObservation> {
  const { ip, port, sni, domain } = endpoint;
  checkTimeout(options.timeoutMs);
  options.signal?.throwIfAborted();
  const first = await handshake(ip, port, sni, options, deps);
  let neutral: TlsHandshakeObservation | null = null;
  if (
    first.operation === 'tls_handshake' &&
    first.failure !== null &&
    RETRY_WITH_NEUTRAL_SNI.has(first.failure) &&
    sni !== options.neutralSni
  ) {
    neutral = await handshake(ip, port, options.neutralSni, options, deps);
  }
  return { domain, ip, port, ...first, neutral };
}
