// The per-operation classifiers that map Node, undici and TLS errors onto the closed failure vocabulary.
import type { Failure, Operation } from '../../contract/failure.js';

/** Node, libuv, undici and c-ares codes that mean the same thing at every operation. */
const COMMON: Record<string, Failure> = {
  ETIMEDOUT: 'generic_timeout_error',
  ESOCKETTIMEDOUT: 'generic_timeout_error',
  ABORT_ERR: 'generic_timeout_error',
  TimeoutError: 'generic_timeout_error',
  UND_ERR_CONNECT_TIMEOUT: 'generic_timeout_error',
  UND_ERR_HEADERS_TIMEOUT: 'generic_timeout_error',
  UND_ERR_BODY_TIMEOUT: 'generic_timeout_error',
  ECONNREFUSED: 'connection_refused',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  ECONNABORTED: 'connection_reset',
  UND_ERR_SOCKET: 'connection_reset',
  ENETUNREACH: 'network_unreachable',
  ENETDOWN: 'network_unreachable',
  EHOSTUNREACH: 'host_unreachable',
  EHOSTDOWN: 'host_unreachable',
  ERR_SOCKET_CLOSED: 'eof_error',
  ERR_SOCKET_CLOSED_BEFORE_CONNECTION: 'eof_error',
  UND_ERR_CLOSED: 'eof_error',
};

const DNS: Record<string, Failure> = {
  ENOTFOUND: 'dns_nxdomain_error',
  NXDOMAIN: 'dns_nxdomain_error',
  ENODATA: 'dns_no_answer',
  NOERROR_NODATA: 'dns_no_answer',
  EREFUSED: 'dns_refused_error',
  REFUSED: 'dns_refused_error',
  ESERVFAIL: 'dns_servfail_error',
  SERVFAIL: 'dns_servfail_error',
  EAI_AGAIN: 'dns_servfail_error',
  ETIMEOUT: 'generic_timeout_error',
  ECONNREFUSED: 'connection_refused',
};

const TLS: Record<string, Failure> = {
  UNABLE_TO_GET_ISSUER_CERT: 'ssl_unknown_authority',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'ssl_unknown_authority',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'ssl_unknown_authority',
  SELF_SIGNED_CERT_IN_CHAIN: 'ssl_unknown_authority',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'ssl_unknown_authority',
  CERT_UNTRUSTED: 'ssl_unknown_authority',
  ERR_TLS_CERT_ALTNAME_INVALID: 'ssl_invalid_hostname',
  HOSTNAME_MISMATCH: 'ssl_invalid_hostname',
  CERT_HAS_EXPIRED: 'ssl_invalid_certificate',
  CERT_NOT_YET_VALID: 'ssl_invalid_certificate',
  CERT_REVOKED: 'ssl_invalid_certificate',
  CERT_SIGNATURE_FAILURE: 'ssl_invalid_certificate',
  CERT_REJECTED: 'ssl_invalid_certificate',
  INVALID_CA: 'ssl_invalid_certificate',
  INVALID_PURPOSE: 'ssl_invalid_certificate',
  ERR_SSL_WRONG_VERSION_NUMBER: 'ssl_failed_handshake',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'ssl_failed_handshake',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'ssl_failed_handshake',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'ssl_failed_handshake',
  ERR_SSL_TLSV1_ALERT_INTERNAL_ERROR: 'ssl_failed_handshake',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'ssl_failed_handshake',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'ssl_failed_handshake',
  ERR_SSL_TLSV1_UNRECOGNIZED_NAME: 'ssl_failed_handshake',
};

const HTTP: Record<string, Failure> = {
  HPE_INVALID_CONSTANT: 'http_invalid_response',
  HPE_INVALID_VERSION: 'http_invalid_response',
  HPE_INVALID_STATUS: 'http_invalid_response',
  HPE_INVALID_HEADER_TOKEN: 'http_invalid_response',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'http_invalid_response',
  UND_ERR_INVALID_ARG: 'http_invalid_response',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'http_invalid_response',
  UND_ERR_RESPONSE_STATUS_CODE: 'http_invalid_response',
  UND_ERR_INFO: 'http_invalid_response',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'http_invalid_response',
  UND_ERR_NOT_SUPPORTED: 'http_invalid_response',
  HPE_CLOSED_CONNECTION: 'eof_error',
  // undici 7 raises parser errors without a code (its ERROR table is keyed by name): match the class name.
  HTTPParserError: 'http_invalid_response',
};

const BY_OPERATION: Record<Operation, Record<string, Failure>> = {
  resolve: DNS,
  connect: {},
  tls_handshake: TLS,
  http_request: HTTP,
  http_body: HTTP,
};

/** Every error in an error's tree: itself, its `.cause` chain and `AggregateError.errors`. */
export function errorTree(err: unknown, seen = new Set<unknown>()): unknown[] {
  if (err === null || err === undefined || seen.has(err)) return [];
  seen.add(err);
  const out: unknown[] = [err];
  if (typeof err === 'object') {
    const e = err as { cause?: unknown; errors?: unknown };
    if (Array.isArray(e.errors)) for (const inner of e.errors) out.push(...errorTree(inner, seen));
    if (e.cause !== undefined) out.push(...errorTree(e.cause, seen));
  }
  return out;
}

function codesOf(err: unknown): string[] {
  if (typeof err !== 'object' || err === null) return [];
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  const codes: string[] = [];
  if (typeof e.code === 'string') codes.push(e.code);
  if (typeof e.name === 'string') codes.push(e.name);
  if (typeof e.message === 'string') {
    // OpenSSL alerts arrive as text in some Node versions, e.g. "... alert number 40".
    if (/wrong version number/i.test(e.message)) codes.push('ERR_SSL_WRONG_VERSION_NUMBER');
    if (/socket disconnected before secure TLS connection/i.test(e.message)) codes.push('ECONNRESET');
    if (/socket hang up/i.test(e.message)) codes.push('ECONNRESET');
  }
  return codes;
}

/**
 * Map an error raised while performing `operation` to a failure string. Walks the cause chain and
 * aggregate errors; the first known code wins; anything unrecognised is `unknown_failure`.
 */
export function classifyError(operation: Operation, err: unknown): Failure {
  const specific = BY_OPERATION[operation];
  for (const node of errorTree(err)) {
    for (const code of codesOf(node)) {
      const hit = specific[code] ?? COMMON[code];
      if (hit) return hit;
    }
  }
  return 'unknown_failure';
}

/** The raw text kept beside a failure string: message and code, never used as a key. */
export function rawError(err: unknown): string {
  const parts: string[] = [];
  for (const node of errorTree(err)) {
    if (node instanceof Error) {
      const code = (node as { code?: unknown }).code;
      parts.push(typeof code === 'string' ? `${code}: ${node.message}` : node.message);
    } else parts.push(String(node));
  }
  return parts.join(' <- ').slice(0, 500);
}
