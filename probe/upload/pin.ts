// Pinning of the collector's key: SPKI SHA-256 of the presented chain, checked after the handshake and before any request byte.
//
// Policy (leaf-or-chain pinning, as HPKP did):
// * A pin is the base64 SHA-256 of a certificate's DER SubjectPublicKeyInfo (what `spkiSha256`
//   returns and what `openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst
//   -sha256 -binary | base64` prints).
// * The connection is accepted when the LEAF's key is pinned: the handshake itself proved that the
//   server holds that key, so neither the chain nor the name is checked (a self-signed collector
//   certificate is fine when pinned).
// * Otherwise it is accepted when another certificate of the presented chain is pinned AND the path
//   from the leaf up to it is genuine: every certificate signed by the next one (signature
//   verified), every issuer a CA, every certificate within its validity period, and the leaf valid
//   for the collector's host name. Without those checks an interceptor could present its own leaf
//   followed by the collector's real (public) intermediate and match the pin.
// * Anything else is a mismatch: the caller destroys the socket without writing a byte and records
//   the handshake as evidence (a national interception certificate looks exactly like this).
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { InvalidArgumentError } from '../../common/errors.js';
import type { TlsObservation } from '../../contract/evidence.js';
import { MEASUREMENT_SCHEMA, type Measurement, type ProbeInfo } from '../../contract/measurement.js';
import { peerChain } from '../measure/tls.js';
import { COLLECTOR_TARGET } from '../../contract/wire.js';
import { spkiSha256 } from '../../contract/pin.js';

export { spkiSha256 };


/** A pin as configured ("base64" or "sha256/base64"), checked to be 32 bytes; returns the bare base64. */
export function parsePin(pin: string): string {
  const bare = pin.trim().replace(/^sha256\//i, '');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(bare) || Buffer.from(bare, 'base64').length !== 32) {
    throw new InvalidArgumentError(`not a base64 SHA-256 SPKI pin (44 characters ending in "="): ${JSON.stringify(pin).slice(0, 80)}`);
  }
  return bare;
}

/** The certificates the server presented (as Node links them from the peer chain), leaf first. */
export function presentedChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    out.push(new X509Certificate(cert.raw));
    const issuer: tls.DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (issuer === undefined || issuer === cert) break;
    cert = issuer;
  }
  return out;
}

export type PinMatch =
  | { ok: true; matched: 'leaf' | 'chain'; spki: string }
  | { ok: false; reason: string };

function validAt(x: X509Certificate, now: number): boolean {
  const from = Date.parse(x.validFrom);
  const to = Date.parse(x.validTo);
  return !Number.isNaN(from) && !Number.isNaN(to) && from <= now && now <= to;
}

function nameMatches(leaf: X509Certificate, host: string): boolean {
  return isIP(host) !== 0 ? leaf.checkIP(host) !== undefined : leaf.checkHost(host) !== undefined;
}

/** Why the path leaf → … → chain[upTo] is not genuine, or null when it is. */
function pathProblem(chain: X509Certificate[], upTo: number, host: string, now: number): string | null {
  const leaf = chain[0]!;
  if (!nameMatches(leaf, host)) return `the leaf is not valid for ${host}`;
  for (let i = 0; i <= upTo; i++) {
    const cert = chain[i]!;
    if (!validAt(cert, now)) return `certificate #${i} (${cert.subject.split('\n').join(', ')}) is outside its validity period`;
    if (i === upTo) break;
    const issuer = chain[i + 1]!;
    if (!issuer.ca) return `certificate #${i + 1} is not a CA`;
    if (!cert.checkIssued(issuer) || !cert.verify(issuer.publicKey)) return `certificate #${i} is not signed by certificate #${i + 1}`;
  }
  return null;
}

/** Check the presented chain (leaf first) against the pins for `host` at time `now` (epoch ms). */
export function checkPins(chain: readonly X509Certificate[], host: string, pins: ReadonlySet<string>, now: number): PinMatch {
  const leaf = chain[0];
  if (leaf === undefined) return { ok: false, reason: 'the server presented no certificate' };
  const leafSpki = spkiSha256(leaf);
  if (pins.has(leafSpki)) return { ok: true, matched: 'leaf', spki: leafSpki };
  const problems: string[] = [];
  for (let i = 1; i < chain.length; i++) {
    const spki = spkiSha256(chain[i]!);
    if (!pins.has(spki)) continue;
    const problem = pathProblem([...chain], i, host, now);
    if (problem === null) return { ok: true, matched: 'chain', spki };
    problems.push(`pinned certificate #${i} found but ${problem}`);
  }
  const subject = leaf.subject.split('\n').join(', ');
  const issuer = leaf.issuer.split('\n').join(', ');
  return {
    ok: false,
    reason:
      problems.length > 0
        ? `${problems.join('; ')} (leaf ${subject}, issuer ${issuer})`
        : `no pinned key in the presented chain (leaf ${subject}, issuer ${issuer}, leaf SPKI sha256/${leafSpki})`,
  };
}

export interface HandshakeEndpoint {
  /** The collector's host name (or address) from its URL. */
  host: string;
  /** The address actually dialled (the proxy's when the upload goes through one). */
  ip: string;
  port: number;
}

/** The completed handshake as TLS evidence (the shape every measurement uses), chain leaf first. */
export function handshakeEvidence(socket: tls.TLSSocket, endpoint: HandshakeEndpoint, rttMs: number | null): TlsObservation {
  const sni = isIP(endpoint.host) === 0 ? endpoint.host : null;
  const leaf = socket.getPeerCertificate();
  const authError: unknown = socket.authorizationError;
  let validationError: string | null = null;
  if (!socket.authorized) {
    if (typeof authError === 'string') validationError = authError;
    else if (authError instanceof Error) validationError = (authError as { code?: string }).code ?? authError.message;
  }
  return {
    domain: sni,
    ip: endpoint.ip,
    port: endpoint.port,
    sni,
    version: socket.getProtocol(),
    cipher: socket.getCipher()?.name ?? null,
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : null,
    chain: peerChain(socket),
    trusted: socket.authorized,
    hostname_ok: leaf.raw ? tls.checkServerIdentity(endpoint.host, leaf) === undefined : null,
    validation_error: validationError,
    rtt_ms: rttMs,
    failure: null,
    operation: null,
    error: null,
    neutral: null,
  };
}

export interface InterceptionRecord {
  /** The evidence of UploadError.pinEvidence. */
  evidence: TlsObservation;
  probe: ProbeInfo;
  /** A fresh ULID. */
  id: string;
  /** When the upload attempt started, epoch ms. */
  startedAt: number;
  runtimeMs: number;
}

/**
 * The measurement a probe records when the collector's key does not match the pins: target
 * COLLECTOR_TARGET, the handshake as TLS evidence, verdict `tls.interception`.
 */
export function collectorInterceptionMeasurement(r: InterceptionRecord): Measurement {
  const leaf = r.evidence.chain[0];
  const host = r.evidence.sni ?? r.evidence.ip;
  const what = leaf ? `a certificate for ${leaf.subject} issued by ${leaf.issuer}` : 'no certificate';
  return {
    schema: MEASUREMENT_SCHEMA,
    id: r.id,
    probe: r.probe,
    target: { id: COLLECTOR_TARGET.id, category: COLLECTOR_TARGET.category },
    started_at: new Date(r.startedAt).toISOString(),
    runtime_ms: r.runtimeMs,
    evidence: { dns: [], tcp: [], tls: [r.evidence], http: [] },
    timing: { dns: 0, tcp: 0, tls: r.evidence.rtt_ms ?? 0, http: 0 },
    verdict: {
      verdict: 'tls.interception',
      layer: 'tls',
      confidence: 0.9,
      reason: `the collector ${host} presented ${what} whose key is not pinned; nothing was uploaded`,
      subjects: [host],
    },
  };
}
