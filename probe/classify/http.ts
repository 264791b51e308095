// HTTP rules for one domain: a block-page fingerprint, or a status/failure that differs from what the service answers.
import { matchBlockpage, pageTitle } from '../blockpages.js';
import type { HttpObservation } from '../../contract/evidence.js';
import type { HttpExpectation } from '../../contract/target.js';
import { ipKey, unique } from './address.js';
import { CONFIDENCE } from './confidence.js';
import type { Finding, LayerResult } from './finding.js';

export interface HttpResult extends LayerResult {
  passed: boolean;
}

/** Failures of a request made over a path whose TLS handshake (or TCP connect) was good. */
const AFTER_HANDSHAKE = new Set(['http_invalid_response', 'connection_reset', 'eof_error', 'generic_timeout_error']);

function describe(h: HttpObservation): string {
  const title = pageTitle(h);
  return `HTTP ${h.status ?? '-'}${title !== null ? ` ("${title.slice(0, 80)}")` : ''}`;
}

/**
 * Judge the requests made for one domain. A block page anywhere is a finding; otherwise one response
 * with an expected status (from an address DNS did not taint) passes the domain.
 */
export function judgeHttp(
  domain: string,
  expectation: HttpExpectation,
  all: readonly HttpObservation[],
  addresses: ReadonlySet<string>,
): HttpResult {
  if (all.length === 0) {
    return { findings: [], gaps: [{ subject: domain, layer: 'http', reason: `${domain}: no HTTP request was recorded` }], passed: false };
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
        `${domain}: ${h.url} at ${h.ip} answered ${describe(h)}${location !== undefined ? ` redirecting to ${location}` : ''}, ` +
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
      reason: `${domain}: ${answered.url} at ${answered.ip} answered ${describe(answered)} where ${expected} was expected`,
      symptom: { layer: 'http', domain, status: answered.status, title: pageTitle(answered), failure: null },
    };
    return { findings: [finding], gaps: [], passed: false };
  }
  const failed = relevant.find(
    (h) => h.failure !== null && AFTER_HANDSHAKE.has(h.failure) && (h.operation === 'http_request' || h.operation === 'http_body'),
  );
  if (failed !== undefined && failed.failure !== null) {
    const finding: Finding = {
      verdict: 'http.diff',
      layer: 'http',
      confidence: CONFIDENCE.httpFailure,
      subject: domain,
      reason: `${domain}: ${failed.url} at ${failed.ip} failed after a good handshake (${failed.failure}${failed.operation !== null ? ` during ${failed.operation}` : ''})`,
      symptom: { layer: 'http', domain, status: null, title: null, failure: failed.failure },
    };
    return { findings: [finding], gaps: [], passed: false };
  }
  const failures = unique(relevant.map((h) => `${h.failure ?? 'no status'}${h.operation !== null ? ` at ${h.operation}` : ''}`));
  return {
    findings: [],
    gaps: [{ subject: domain, layer: 'http', reason: `${domain}: HTTP request failed with ${failures.join(', ')}` }],
    passed: false,
  };
}
