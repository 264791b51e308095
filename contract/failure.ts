// The closed failure vocabulary (DESIGN.md): every failure recorded in evidence is one of these strings.

export const FAILURES = [
  'generic_timeout_error',
  'connection_refused',
  'connection_reset',
  'eof_error',
  'network_unreachable',
  'host_unreachable',
  'dns_nxdomain_error',
  'dns_no_answer',
  'dns_refused_error',
  'dns_servfail_error',
  'dns_bogon_error',
  'ssl_unknown_authority',
  'ssl_invalid_hostname',
  'ssl_invalid_certificate',
  'ssl_failed_handshake',
  'http_invalid_response',
  'unknown_failure',
] as const;

export type Failure = (typeof FAILURES)[number];

/** The step that failed: recorded beside every failure. */
export const OPERATIONS = ['resolve', 'connect', 'tls_handshake', 'http_request', 'http_body'] as const;
export type Operation = (typeof OPERATIONS)[number];

const FAILURE_SET: ReadonlySet<string> = new Set(FAILURES);
export function isFailure(value: unknown): value is Failure {
  return typeof value === 'string' && FAILURE_SET.has(value);
}
