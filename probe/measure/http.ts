// The HTTP measurement: one GET with undici over the address DNS found, keeping status, headers of interest and a body digest.
//
// The connection is made by the probe itself (deps.network.dialTcp to the given ip:port, then for
// https a TLS handshake with the domain as SNI and certificate validation ON) and handed to an
// undici Client, so there is no second name resolution and exactly one connection. Steps and
// their operations: connect, tls_handshake (an untrusted chain fails here with ssl_*; the TLS
// measurement is where the chain itself is recorded), http_request (until the response headers),
// http_body. Each step has its own timeoutMs. Redirects are not followed: the status and `location`
// are recorded. The body is read up to maxBodyBytes; beyond that reading stops and body_length
// (= maxBodyBytes) and body_sha256 cover the bytes read. IP addresses in the body and headers are
// replaced by "[address]" before anything is kept (body_sha256 is of the redacted body). When the body fails midway, what arrived
// before the failure is still recorded beside the failure. rtt_ms runs from the start of the connect
// to the response headers.
import { createHash } from 'node:crypto';
import { redactAddresses } from '../redact.js';
import type net from 'node:net';
import type { Readable } from 'node:stream';
import type tls from 'node:tls';
import type { Dispatcher } from 'undici';
import type { Deps } from '../deps.js';
import { InvalidArgumentError } from '../../common/errors.js';
import type { BulkEnd, BulkObservation, HttpObservation } from '../../contract/evidence.js';
import type { Failure, Operation } from '../../contract/failure.js';
import { classifyError, errorTree, rawError } from './failure.js';
import type { TrustStore } from '../trust.js';
import { checkTimeout, startDeadline } from './deadline.js';
import { dialWithin } from './tcp.js';
import { classifyTlsError, secureHandshake } from './tls.js';
import { loadHttpClient } from './undici.js';

export interface HttpTarget {
  /** The URL requested; its host is sent as Host header and used as SNI for https. */
  url: string;
  /** The address DNS found for the URL's host; the only address dialled. */
  ip: string;
  port: number;
  domain: string;
}

export interface HttpOptions {
  /** Timeout of each step (connect, TLS handshake, response headers, body) in ms. */
  timeoutMs: number;
  trust: TrustStore;
  /** Body bytes read at most (e.g. 1 MiB); reading stops there. */
  maxBodyBytes: number;
  /** User-Agent sent; a common browser's by default, so the probe does not announce itself. */
  userAgent?: string;
  /** Aborting rejects with `signal.reason` after the connection is destroyed. */
  signal?: AbortSignal;
}

export interface BulkOptions extends HttpOptions {
  /** The body is read for at most this long (ms), then reading stops without a failure (ended: "time"). */
  readForMs: number;
}

/** Response headers recorded (lower-case); anything else is dropped. */
export const HEADERS_OF_INTEREST = [
  'server',
  'location',
  'content-type',
  'content-length',
  'content-language',
  'via',
  'x-cache',
  'x-powered-by',
  'x-squid-error',
  'refresh',
] as const;

export const DEFAULT_USER_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';

/** Characters of body_head. */
export const BODY_HEAD_CHARS = 4096;
/** Characters of title. */
export const TITLE_CHARS = 200;
/** Bytes of the body decoded as text to find body_head and the title. */
const TEXT_BYTES = 64 * 1024;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** The document title: the first <title> element, entities decoded, whitespace collapsed, ≤ 200 chars. */
export function titleOf(html: string): string | null {
  const m = /<title\b[^>]*>([\s\S]*?)<\/title\s*>/i.exec(html);
  if (!m) return null;
  const title = decodeEntities(m[1] ?? '')
    .replace(/\s+/g, ' ')
    .trim();
  return title === '' ? null : title.slice(0, TITLE_CHARS);
}

function pickHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of HEADERS_OF_INTEREST) {
    const value = headers[name];
    if (value !== undefined) out[name] = redactAddresses(Array.isArray(value) ? value.join(', ') : value);
  }
  return out;
}

/** classifyError, telling a peer's FIN (undici: "other side closed") from a reset. */
function classifyHttpError(operation: Operation, err: unknown): Failure {
  const eof = errorTree(err).some((node) => {
    const e = node as { code?: unknown; message?: unknown } | null;
    return e?.code === 'UND_ERR_SOCKET' && e.message === 'other side closed';
  });
  return eof ? 'eof_error' : classifyError(operation, err);
}

interface Body {
  length: number;
  sha256: string;
  text: Buffer;
}

/**
 * Read at most maxBytes of the body; resolves with what was read, or rejects carrying it. IP
 * addresses are removed before the digest and the text are taken (a block page may echo the
 * volunteer's address, and a digest of a short page would let anyone recover it by trying them all).
 * The body streams through: only a trailing run of address characters is held back between chunks,
 * so an address split across two chunks is still found.
 */
async function readBody(body: Readable, maxBytes: number, into: Body): Promise<void> {
  const hash = createHash('sha256');
  const textParts: Buffer[] = [];
  let textLength = 0;
  let carry = '';
  // Addresses are ASCII: latin1 maps bytes to characters one to one, so nothing else changes.
  const emit = (text: string) => {
    if (text === '') return;
    const redacted = Buffer.from(redactAddresses(text), 'latin1');
    hash.update(redacted);
    if (textLength < TEXT_BYTES) {
      const keep = redacted.subarray(0, TEXT_BYTES - textLength);
      textParts.push(keep);
      textLength += keep.length;
    }
  };
  const feed = (chunk: Buffer) => {
    const text = carry + chunk.toString('latin1');
    let cut = ADDRESS_TAIL.exec(text)?.index ?? text.length;
    // No address is that long: a long run of such characters (hex data) is cut to a short tail.
    if (text.length - cut > 128) cut = text.length - 64;
    emit(text.slice(0, cut));
    carry = text.slice(cut);
  };
  const settle = () => {
    emit(carry);
    carry = '';
    into.sha256 = hash.digest('hex');
    into.text = Buffer.concat(textParts, textLength);
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      const take = Math.min(chunk.length, maxBytes - into.length);
      if (take > 0) {
        feed(chunk.subarray(0, take));
        into.length += take;
      }
      // The cap is reached: stop reading (the rest of the body is never downloaded).
      if (take < chunk.length) break;
    }
  } finally {
    settle();
  }
}

/** The characters an IP address is written with, at the end of a text. */
const ADDRESS_TAIL = /[0-9A-Fa-f:.]*$/;

export async function measureHttp(target: HttpTarget, options: HttpOptions, deps: Deps): Promise<HttpObservation> {
  return (await exchange(target, options, undefined, deps)).obs;
}

/**
 * A bulk read for throughput: the same GET, its body read for at most `readForMs` and
 * `maxBodyBytes`, with the time the body took and its rate. A read stopped by either bound is not a
 * failure; a body that stalls is one that the time bound ends with a low rate.
 */
export async function measureBulk(target: HttpTarget, options: BulkOptions, deps: Deps): Promise<BulkObservation> {
  checkTimeout(options.readForMs);
  const { obs, bodyMs, ended } = await exchange(target, options, options.readForMs, deps);
  const bytes = obs.body_length ?? 0;
  const rate = bodyMs !== null && bodyMs > 0 && bytes > 0 ? Math.round((bytes * 1000) / bodyMs) : null;
  return { ...obs, body_ms: bodyMs === null ? null : Math.round(bodyMs * 10) / 10, rate_bps: rate, ended };
}

interface Exchange {
  obs: HttpObservation;
  /** From the response headers to the end of the body read; null when no response came. */
  bodyMs: number | null;
  ended: BulkEnd;
}

async function exchange(target: HttpTarget, options: HttpOptions, readForMs: number | undefined, deps: Deps): Promise<Exchange> {
  const { url, ip, port, domain } = target;
  checkTimeout(options.timeoutMs);
  if (!Number.isSafeInteger(options.maxBodyBytes) || options.maxBodyBytes < 0) {
    throw new InvalidArgumentError(`maxBodyBytes must be a non-negative integer, got ${options.maxBodyBytes}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError(`only http and https URLs are measured, got ${url}`);
  }
  options.signal?.throwIfAborted();

  const obs: HttpObservation = {
    domain,
    url,
    ip,
    port,
    status: null,
    headers: {},
    body_length: null,
    body_sha256: null,
    body_head: null,
    title: null,
    rtt_ms: null,
    failure: null,
    operation: null,
    error: null,
  };
  let bodyMs: number | null = null;
  const failed = (operation: Operation, failure: Failure, err: unknown): Exchange => ({
    obs: Object.assign(obs, { failure, operation, error: rawError(err) }),
    bodyMs,
    ended: 'failure',
  });

  const started = deps.clock.monotonic();
  const connect = startDeadline('connect', options.timeoutMs, options.signal);
  let raw: net.Socket;
  try {
    raw = await dialWithin(deps.network, ip, port, connect);
  } catch (err) {
    if (connect.cancelled()) throw options.signal?.reason;
    return failed('connect', classifyError('connect', err), err);
  } finally {
    connect.dispose();
  }

  // undici attaches its own listeners; this one keeps a late error from going unhandled.
  raw.on('error', () => undefined);
  let socket: net.Socket | tls.TLSSocket = raw;
  if (parsed.protocol === 'https:') {
    const handshake = startDeadline('tls_handshake', options.timeoutMs, options.signal);
    try {
      socket = await secureHandshake(
        raw,
        {
          servername: domain,
          secureContext: options.trust.secureContext(),
          rejectUnauthorized: true,
          ALPNProtocols: ['http/1.1'],
        },
        handshake,
      );
    } catch (err) {
      if (handshake.cancelled()) throw options.signal?.reason;
      return failed('tls_handshake', classifyTlsError(err), err);
    } finally {
      handshake.dispose();
    }
  }

  // The one connection made above; undici asks for another only if it breaks, and gets an error.
  let handed = false;
  const connection = socket;
  const undici = loadHttpClient();
  const client = new undici.Client(parsed.origin, {
    connect(_opts, callback) {
      // undici stalls when the connector answers synchronously: answer on the next microtask.
      queueMicrotask(() => {
        if (handed) callback(new Error('the measured connection is closed; no second connection is made'), null);
        else {
          handed = true;
          callback(null, connection);
        }
      });
    },
    headersTimeout: 0,
    bodyTimeout: 0,
    pipelining: 1,
  });
  const teardown = () => {
    connection.destroy();
    raw.destroy();
    void client.destroy().catch(() => undefined);
  };

  try {
    const request = startDeadline('http_request', options.timeoutMs, options.signal);
    let response: Dispatcher.ResponseData;
    try {
      response = await undici.request(client, {
        path: `${parsed.pathname}${parsed.search}`,
        method: 'GET',
        headers: {
          'user-agent': options.userAgent ?? DEFAULT_USER_AGENT,
          accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
        },
        signal: request.signal,
      });
    } catch (err) {
      if (request.cancelled()) throw options.signal?.reason;
      return failed('http_request', classifyHttpError('http_request', err), err);
    } finally {
      request.dispose();
    }
    obs.rtt_ms = deps.clock.monotonic() - started;
    obs.status = response.statusCode;
    obs.headers = pickHeaders(response.headers);

    const bodyStarted = deps.clock.monotonic();
    const reading = startDeadline('http_body', readForMs ?? options.timeoutMs, options.signal);
    const onAbort = () => response.body.destroy(reading.signal.reason as Error);
    reading.signal.addEventListener('abort', onAbort, { once: true });
    const body: Body = { length: 0, sha256: '', text: Buffer.alloc(0) };
    let bodyError: unknown = null;
    try {
      await readBody(response.body, options.maxBodyBytes, body);
    } catch (err) {
      bodyError = err;
    } finally {
      reading.signal.removeEventListener('abort', onAbort);
      reading.dispose();
    }
    if (reading.cancelled()) throw options.signal?.reason;
    bodyMs = deps.clock.monotonic() - bodyStarted;
    // A bulk read that reached its time bound ends there: that is the measurement, not a failure.
    const timeBound = readForMs !== undefined && reading.signal.aborted && bodyError !== null;
    if (timeBound) bodyError = null;
    const text = body.text.toString('utf8');
    obs.body_length = body.length;
    obs.body_sha256 = body.sha256;
    obs.body_head = text.slice(0, BODY_HEAD_CHARS);
    obs.title = titleOf(text);
    if (bodyError !== null) return failed('http_body', classifyHttpError('http_body', bodyError), bodyError);
    return { obs, bodyMs, ended: timeBound ? 'time' : body.length >= options.maxBodyBytes ? 'size' : 'complete' };
  } finally {
    teardown();
  }
}
