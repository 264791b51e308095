// HTTP rules for one domain and scheme: a block page, a reset or silence after the request, or a status/failure that differs from what the service answers.
import { matchBlockpage, pageTitle } from '../blockpages.js';
import type { HttpObservation } from '../../contract/evidence.js';
import { portOf, type HttpExpectation, type HttpScheme } from '../../contract/target.js';
import { ipKey, unique } from './address.js';
import { CONFIDENCE } from './confidence.js';
import type { Finding, LayerResult } from './finding.js';

export interface HttpResult extends LayerResult {
  passed: boolean;
}

/** Failures of a request made over a path whose TLS handshake (or TCP connect) was good. */
const AFTER_HANDSHAKE = new Set(['http_invalid_response', 'connection_reset', 'eof_error', 'generic_timeout_error']);

/** The failures after the request that have a verdict of their own; the rest are http.diff. */
const AFTER_REQUEST: Record<string, { verdict: 'http.reset' | 'http.timeout'; confidence: number; what: string }> = {
  connection_reset: { verdict: 'http.reset', confidence: CONFIDENCE.httpReset, what: 'was reset after the request was sent' },
  generic_timeout_error: { verdict: 'http.timeout', confidence: CONFIDENCE.httpTimeout, what: 'got no answer after the request was sent' },
};

/** "http://x/ on port 80 at 1.2.3.4": the URL names the scheme, the port is said. */
function where(h: HttpObservation): string {
  return `${h.url} on port ${h.port} at ${h.ip}`;
}

function describe(h: HttpObservation): string {
  const title = pageTitle(h);
  return `HTTP ${h.status ?? '-'}${title !== null ? ` ("${title.slice(0, 80)}")` : ''}`;
}

/**
 * Judge the requests made for one domain over one scheme and port (http on 80, https on 443). A block
 * page anywhere is a finding; otherwise one response with an expected status (from an address DNS
 * did not taint) passes the domain over that scheme.
 */
export function judgeHttp(
  domain: string,
  scheme: HttpScheme,
  expectation: HttpExpectation,
  all: readonly HttpObservation[],
  addresses: ReadonlySet<string>,
): HttpResult {
  if (all.length === 0) {
    return {
      findings: [],
      gaps: [{ subject: domain, layer: 'http', reason: `${domain}: no ${scheme} request on port ${portOf(scheme)} was recorded` }],
      passed: false,
    };
  }
  for (const h of all) {
    const page = matchBlockpage(h);
    if (page === null) continue;
    const location = h.headers['location'];
    const finding: Finding = {
      verdict: 'http.blockpage',
      layer: 'http',
      confidence: CONFIDENCE.httpBlockpage,
      subject: domain,
      reason:
        `${domain}: ${where(h)} answered ${describe(h)}${location !== undefined ? ` redirecting to ${location}` : ''}, ` +
        `a block page: ${page.name} [${page.id}]`,
    };
    return { findings: [finding], gaps: [], passed: false };
  }

  const trusted = all.filter((h) => addresses.has(ipKey(h.ip)));
  const relevant = trusted.length > 0 ? trusted : all;
  if (relevant.some((h) => h.status !== null && expectation.status.includes(h.status))) return { findings: [], gaps: [], passed: true };

  const expected = expectation.status.join('/');
  const answered = relevant.find((h) => h.status !== null);
  if (answered !== undefined) {
    const finding: Finding = {
      verdict: 'http.diff',
      layer: 'http',
      confidence: CONFIDENCE.httpStatus,
      subject: domain,
      reason: `${domain}: ${where(answered)} answered ${describe(answered)} where ${expected} was expected`,
      symptom: { layer: 'http', domain, status: answered.status, title: pageTitle(answered), failure: null },
    };
    return { findings: [finding], gaps: [], passed: false };
  }
  const failed = relevant.find(
    (h) => h.failure !== null && AFTER_HANDSHAKE.has(h.failure) && (h.operation === 'http_request' || h.operation === 'http_body'),
  );
  if (failed !== undefined && failed.failure !== null) {
    const own = AFTER_REQUEST[failed.failure];
    const tail = `(${failed.failure}${failed.operation !== null ? ` during ${failed.operation}` : ''})`;
    const connected = scheme === 'https' ? 'the TCP connect and TLS handshake' : 'the TCP connect';
    const finding: Finding = own !== undefined ? {
      verdict: own.verdict,
      layer: 'http',
      confidence: own.confidence,
      subject: domain,
      reason: `${domain}: ${where(failed)} ${own.what} ${tail}, while ${connected} succeeded`,
      symptom: { layer: 'http', domain, status: null, title: null, failure: failed.failure },
    } : {
      verdict: 'http.diff',
      layer: 'http',
      confidence: CONFIDENCE.httpFailure,
      subject: domain,
      reason: `${domain}: ${where(failed)} failed after a good handshake (${failed.failure}${failed.operation !== null ? ` during ${failed.operation}` : ''})`,
      symptom: { layer: 'http', domain, status: null, title: null, failure: failed.failure },
    };
    return { findings: [finding], gaps: [], passed: false };
  }
  const failures = unique(relevant.map((h) => `${h.failure ?? 'no status'}${h.operation !== null ? ` at ${h.operation}` : ''}`));
  return {
    findings: [],
    gaps: [{ subject: domain, layer: 'http', reason: `${domain}: ${scheme} request on port ${portOf(scheme)} failed with ${failures.join(', ')}` }],
    passed: false,
  };
}
