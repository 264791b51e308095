// The collector client: pinned TLS (optionally through a proxy), registration, signed gzip batches, target list and whoami.
//
// Every connection is opened by the client itself and handed to undici ready to use: TCP through the
// injected Network (or a tunnel through the proxy), then for https a TLS handshake whose chain is
// checked against the pins (pin.ts) BEFORE the socket is given to undici, so not one request byte
// reaches a server whose key is not pinned. For http:// collector URLs (local testing) there is no
// TLS and no pin. Failures are thrown as UploadError with a kind the uploader acts on:
//   network        the collector (or proxy) could not be reached, the connection broke, a timeout
//   pin_mismatch   the handshake completed with an unpinned key: `pinEvidence` holds it
//   http           an error answer (status, the collector's error code, retry-after for 429/503)
//   rejected_batch the collector refused the batch as a whole (400/413/415): resending it unchanged fails again
//   revoked        the collector revoked this probe (403 probe_revoked, see revocation.ts); after that answer
//                  the client sends nothing more (every request fails at once, without a byte on the wire)
import type net from 'node:net';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client } from 'undici';
import { loadHttpClient, type HttpClientApi } from '../measure/undici.js';
import { systemNetwork, type Network } from '../deps.js';
import { type Clock } from '../../common/clock.js';
import { AshyqError, InvalidArgumentError } from '../../common/errors.js';
import type { TlsObservation } from '../../contract/evidence.js';
import { errorTree, rawError } from '../measure/failure.js';
import { markRegistered, type Identity } from '../identity.js';
import { checkTimeout, startDeadline, type Deadline } from '../measure/deadline.js';
import { dialWithin } from '../measure/tcp.js';
import { classifyTlsError, secureHandshake } from '../measure/tls.js';
import type { Measurement } from '../../contract/measurement.js';
import { checkPins, handshakeEvidence, parsePin, presentedChain } from './pin.js';
import { httpConnect, parseProxy, socks5Connect, type ProxySpec } from './proxy.js';
import { REVOKED_CODE, revocationIn, type Revocation } from './revocation.js';
import {
  API_PREFIX,
  CONTROL_EVIDENCE_PATH,
  encodeBatch,
  HEADER_ROUTE,
  signBatch,
  type Batch,
  type ControlEvidenceItem,
  type ItemResult,
  type RegistrationRequest,
  type SpoolOverflowReport,
  type SurgeAnswer,
} from '../../contract/wire.js';

export interface CollectorEndpoint {
  /** https://host[:port] (pins required) or http://host[:port] (no TLS, for local use). */
  url: string;
  /** Base64 SHA-256 SPKI pins (see pin.ts); at least one for https. */
  pinSpkiSha256: string[];
  /** http://, https:// or socks5:// proxy URL, or null for a direct connection. */
  proxy: string | null;
  /** Needed once, to register; null when the probe is already registered. */
  enrollmentToken: string | null;
  /** Timeout of each step: connecting (with proxy and TLS), the answer's headers, its body. */
  timeoutMs: number;
  /** Roots trusted for an https:// proxy's own certificate; Node's roots when absent. */
  proxyCa?: string[];
}

export type UploadErrorKind = 'network' | 'pin_mismatch' | 'http' | 'rejected_batch' | 'revoked';

export class UploadError extends AshyqError {
  readonly kind: UploadErrorKind;
  /** HTTP status of an error answer. */
  status?: number;
  /** From the answer's retry-after header (429, 503). */
  retryAfterMs?: number;
  /** The handshake with the unpinned key (kind pin_mismatch): evidence for a tls.interception measurement. */
  pinEvidence?: TlsObservation;
  /** The collector's error code from the answer body, e.g. unknown_probe, rate_limited. */
  apiCode?: string;
  /** Kind revoked: what the collector said, and when it was seen. */
  revocation?: Revocation;

  constructor(
    kind: UploadErrorKind,
    message: string,
    extra: { status?: number; retryAfterMs?: number; pinEvidence?: TlsObservation; apiCode?: string; revocation?: Revocation; cause?: unknown } = {},
  ) {
    super(`ASHYQ_ERR_UPLOAD_${kind.toUpperCase()}`, message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.kind = kind;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.retryAfterMs !== undefined) this.retryAfterMs = extra.retryAfterMs;
    if (extra.pinEvidence !== undefined) this.pinEvidence = extra.pinEvidence;
    if (extra.apiCode !== undefined) this.apiCode = extra.apiCode;
    if (extra.revocation !== undefined) this.revocation = extra.revocation;
  }
}

export interface Surge extends SurgeAnswer {}

/** What the spool dropped and has not reported (Spool.takeOverflow()). */
export type SpoolOverflow = { dropped: number; firstDroppedAt: string; lastDroppedAt: string };

export interface CollectorClientDeps {
  clock: Clock;
  /** Where TCP connections and name lookups go; the machine's network by default. */
  network?: Network;
  /** When set, a successful registration is persisted there (markRegistered). */
  stateDir?: string;
  /** Called once, with the first answer that says the collector revoked this probe (any request). */
  onRevoked?: (revocation: Revocation) => void;
}

/** Largest answer body read (a target list, the results of a batch). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** Longest retry-after honoured. */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function header(headers: Answer['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The collector's `{ error: { code, message } }`, when the body is one. */
function apiError(body: Buffer): { code: string; message: string } | null {
  try {
    const value = JSON.parse(body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } };
    const code = value.error?.code;
    const message = value.error?.message;
    if (typeof code === 'string') return { code, message: typeof message === 'string' ? message : '' };
  } catch {
    // not JSON: a proxy's or a captive portal's page
  }
  return null;
}

function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

const ITEM_STATUSES: ReadonlySet<string> = new Set(['accepted', 'duplicate', 'rejected']);
const SURGE_TARGET = /^[a-z0-9][a-z0-9_-]*$/;

/** A surge hint as the collector sent it, or null when it is absent or malformed (then it is ignored). */
export function parseSurge(value: unknown): Surge | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as Record<string, unknown>;
  const targets = v['targets'];
  const interval = v['interval_minutes'];
  const until = v['until'];
  if (!Array.isArray(targets) || targets.length === 0 || targets.length > 1000) return null;
  if (!targets.every((t): t is string => typeof t === 'string' && t.length <= 128 && SURGE_TARGET.test(t))) return null;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval <= 0) return null;
  if (typeof until !== 'string' || Number.isNaN(Date.parse(until))) return null;
  return { targets: [...targets], interval_minutes: interval, until };
}

/** Split an optional `surge` key off the target list the collector sent (the probe's parser knows only version and targets). */
function splitSurge(text: string): { text: string; surge: Surge | null } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { text, surge: null };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('surge' in value)) return { text, surge: null };
  const { surge, ...rest } = value as Record<string, unknown>;
  return { text: JSON.stringify(rest), surge: parseSurge(surge) };
}

export class CollectorClient {
  private readonly origin: URL;
  private readonly host: string;
  private readonly port: number;
  private readonly secure: boolean;
  private readonly pins: ReadonlySet<string>;
  private readonly proxy: ProxySpec | null;
  private readonly network: Network;
  private readonly dispatcher: Client;
  /** undici's HTTP/1.1 client only (not its whole entry point: a daemon idles on less memory). */
  private readonly http: HttpClientApi;
  private readonly closing = new AbortController();
  private registered: boolean;
  private lastSignedAt = 0;
  /** The collector's revocation of this probe, once an answer said so: nothing more is sent. */
  private revokedBy: Revocation | null = null;

  constructor(
    private readonly endpoint: CollectorEndpoint,
    private readonly identity: Identity,
    private readonly deps: CollectorClientDeps,
  ) {
    checkTimeout(endpoint.timeoutMs);
    try {
      this.origin = new URL(endpoint.url);
    } catch {
      throw new InvalidArgumentError(`collector url: not a URL: ${JSON.stringify(endpoint.url).slice(0, 80)}`);
    }
    if (this.origin.protocol !== 'https:' && this.origin.protocol !== 'http:') {
      throw new InvalidArgumentError(`collector url: expected https:// or http://, got ${this.origin.protocol}//`);
    }
    this.secure = this.origin.protocol === 'https:';
    this.host = this.origin.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = this.origin.port === '' ? (this.secure ? 443 : 80) : Number(this.origin.port);
    this.pins = new Set(endpoint.pinSpkiSha256.map(parsePin));
    if (this.secure && this.pins.size === 0) {
      throw new InvalidArgumentError('collector: an https collector needs at least one pin_spki_sha256 (its key is pinned, never trusted from a CA alone)');
    }
    if (!this.secure && this.pins.size > 0) {
      throw new InvalidArgumentError('collector: pins are set but the url is http://, so nothing would be pinned; use https://');
    }
    this.proxy = endpoint.proxy === null ? null : parseProxy(endpoint.proxy);
    this.network = deps.network ?? systemNetwork();
    this.registered = identity.registered;
    this.http = loadHttpClient();
    this.dispatcher = new this.http.Client(this.origin.origin, {
      connect: (_options, callback) => {
        this.connect().then(
          (socket) => callback(null, socket),
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
        );
      },
      headersTimeout: endpoint.timeoutMs,
      bodyTimeout: endpoint.timeoutMs,
      pipelining: 1,
    });
  }

  /** POST /api/v1/probes with the enrollment token; 201 (new) and 200 (already registered with this key) both succeed. */
  async register(): Promise<void> {
    const token = this.endpoint.enrollmentToken;
    if (token === null || token === '') {
      throw new UploadError('http', 'the probe is not registered with the collector and no enrollment token is configured (collector.enrollment_token)');
    }
    const request: RegistrationRequest = {
      enrollment_token: token,
      public_key: this.identity.publicKeyPem,
      probe_id: this.identity.probeId,
    };
    const answer = await this.request('POST', `${API_PREFIX}/probes`, { 'content-type': 'application/json' }, JSON.stringify(request));
    if (answer.status === 201 || answer.status === 200) {
      let id: unknown;
      try {
        id = (JSON.parse(answer.body.toString('utf8')) as { probe_id?: unknown }).probe_id;
      } catch {
        id = undefined;
      }
      if (id !== this.identity.probeId) {
        throw new UploadError('http', `registration: the collector answered probe id ${JSON.stringify(id)}, not ${this.identity.probeId}`, { status: answer.status });
      }
      this.registered = true;
      if (this.deps.stateDir !== undefined) await markRegistered(this.deps.stateDir, this.identity);
      return;
    }
    if (answer.status === 409) {
      throw new UploadError(
        'http',
        `registration: the collector has probe id ${this.identity.probeId} registered with another key (was the key file replaced?); move identity.json away to enrol as a new probe`,
        { status: 409, apiCode: apiError(answer.body)?.code ?? 'probe_exists' },
      );
    }
    throw this.answerError('registration', answer);
  }

  /**
   * Upload one signed gzip batch (and the spool's overflow report, if any); resolves with one result
   * per measurement, in batch order. Registers first when needed, and once more when the collector
   * answers 401 unknown_probe (it lost or never had the registration).
   */
  async upload(batch: Measurement[], overflow: SpoolOverflow | null = null): Promise<ItemResult[]> {
    if (batch.length === 0 && overflow === null) return [];
    if (!this.registered) await this.register();
    try {
      return await this.postBatch(batch, overflow);
    } catch (err) {
      if (err instanceof UploadError && err.status === 401 && err.apiCode === 'unknown_probe') {
        this.registered = false;
        await this.register();
        return await this.postBatch(batch, overflow);
      }
      throw err;
    }
  }

  /** GET /api/v1/targets, conditional on `etag`. `text` is the target list for parseTargets (a surge hint split off). */
  async fetchTargets(
    etag: string | null,
  ): Promise<{ status: 'not-modified' } | { status: 'ok'; etag: string | null; text: string; surge: Surge | null }> {
    // Through a proxy the collector would see the proxy's network: say so, and get no surge meant for that network.
    const route: Record<string, string> = this.proxy === null ? {} : { [HEADER_ROUTE]: 'proxy' };
    const answer = await this.request('GET', `${API_PREFIX}/targets`, { ...route, ...(etag !== null ? { 'if-none-match': etag } : {}) });
    if (answer.status === 304) return { status: 'not-modified' };
    if (answer.status !== 200) throw this.answerError('target list', answer);
    const { text, surge } = splitSurge(answer.body.toString('utf8'));
    return { status: 'ok', etag: header(answer.headers, 'etag') ?? null, text, surge };
  }

  /**
   * GET /api/v1/control/evidence through the pinned channel: the control vantage's latest evidence per
   * target (the same list for every probe); null when the collector has no control vantage (it says
   * so, or predates the route). Items of the wrong shape are left out; an answer that is not the list
   * throws UploadError.
   */
  async fetchControls(): Promise<ControlEvidenceItem[] | null> {
    const answer = await this.request('GET', CONTROL_EVIDENCE_PATH, {});
    if (answer.status === 404) return null;
    if (answer.status !== 200) throw this.answerError('control evidence', answer);
    let value: unknown;
    try {
      value = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw new UploadError('http', 'control evidence: the answer is not JSON', { status: 200 });
    }
    if ((value as { enabled?: unknown } | null)?.enabled === false) return null;
    const list = (value as { controls?: unknown } | null)?.controls;
    if (!Array.isArray(list)) throw new UploadError('http', 'control evidence: no list of controls', { status: 200 });
    return list.filter(isControlItem);
  }

  /** GET /api/v1/whoami: the network the collector sees the probe on (never the address). */
  async whoami(): Promise<{ asn: number | null; cc: string | null; network: string | null }> {
    const answer = await this.request('GET', `${API_PREFIX}/whoami`, {});
    if (answer.status !== 200) throw this.answerError('whoami', answer);
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new UploadError('http', 'whoami: the answer is not JSON', { status: 200 });
    }
    const asn = value['asn'];
    const cc = value['cc'];
    const network = value['network'];
    return {
      asn: typeof asn === 'number' && Number.isInteger(asn) && asn >= 0 ? asn : null,
      cc: typeof cc === 'string' && /^[A-Z]{2}$/.test(cc) ? cc : null,
      network: typeof network === 'string' ? network.slice(0, 256) : null,
    };
  }

  /**
   * GET /healthz through the same pinned channel: whether the collector answers (a cheap check while
   * uploads back off). Never throws: a pin mismatch or any failure is `false`.
   */
  async reachable(): Promise<boolean> {
    try {
      return (await this.request('GET', '/healthz', {})).status === 200;
    } catch {
      return false;
    }
  }

  /** The collector's revocation of this probe, when an answer said so (then every request fails at once). */
  revocation(): Revocation | null {
    return this.revokedBy;
  }

  /** Abort what is in flight and close the connection. */
  async close(): Promise<void> {
    if (!this.closing.signal.aborted) this.closing.abort(new UploadError('network', 'the collector client was closed'));
    await this.dispatcher.destroy().catch(() => undefined);
  }

  private async postBatch(measurements: Measurement[], overflow: SpoolOverflow | null): Promise<ItemResult[]> {
    const report: SpoolOverflowReport | null =
      overflow === null
        ? null
        : { dropped: overflow.dropped, first_dropped_at: overflow.firstDroppedAt, last_dropped_at: overflow.lastDroppedAt };
    const batch: Batch = { probe_id: this.identity.probeId, measurements, ...(report ? { spool_overflow: report } : {}) };
    const body = encodeBatch(batch);
    // Strictly increasing timestamps: a resend of the same body is a new signed request, never a replay.
    const at = Math.max(Math.trunc(this.deps.clock.now()), this.lastSignedAt + 1);
    this.lastSignedAt = at;
    const headers = signBatch(this.identity.privateKey, this.identity.probeId, body, at);
    const route: Record<string, string> = this.proxy === null ? {} : { [HEADER_ROUTE]: 'proxy' };
    const answer = await this.request('POST', `${API_PREFIX}/measurements`, { ...headers, ...route }, body);
    if (answer.status !== 200) throw this.answerError('upload', answer);
    return this.checkResults(answer, measurements);
  }

  /** The answer must hold one well-formed result per measurement, in order; otherwise nothing is acknowledged. */
  private checkResults(answer: Answer, batch: Measurement[]): ItemResult[] {
    const malformed = (why: string) => new UploadError('http', `upload: malformed answer from the collector: ${why}`, { status: answer.status });
    let value: unknown;
    try {
      value = JSON.parse(answer.body.toString('utf8'));
    } catch {
      throw malformed('not JSON');
    }
    const results = (value as { results?: unknown } | null)?.results;
    if (!Array.isArray(results)) throw malformed('no results');
    if (results.length !== batch.length) throw malformed(`${results.length} results for ${batch.length} measurements`);
    return results.map((item: unknown, index): ItemResult => {
      const r = item as Partial<ItemResult> | null;
      if (typeof r !== 'object' || r === null) throw malformed(`results[${index}] is not an object`);
      if (r.index !== index) throw malformed(`results[${index}].index is ${String(r.index)}`);
      if (typeof r.status !== 'string' || !ITEM_STATUSES.has(r.status)) throw malformed(`results[${index}].status`);
      const id = batch[index]!.id;
      if (r.id !== id && !(r.status === 'rejected' && r.id === null)) throw malformed(`results[${index}].id is not ${id}`);
      return {
        index,
        id: r.id ?? null,
        status: r.status,
        ...(r.code !== undefined ? { code: r.code } : {}),
        ...(typeof r.reason === 'string' ? { reason: r.reason } : {}),
      };
    });
  }

  private answerError(what: string, answer: Answer): UploadError {
    const api = apiError(answer.body);
    const status = answer.status;
    const detail = api ? `${api.code}: ${api.message}` : `HTTP ${status}`;
    const kind = status === 400 || status === 413 || status === 415 ? 'rejected_batch' : 'http';
    const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(header(answer.headers, 'retry-after'), this.deps.clock.now()) : undefined;
    return new UploadError(kind, `${what}: the collector answered ${status} (${detail})`, {
      status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      ...(api ? { apiCode: api.code } : {}),
    });
  }

  private async request(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: Buffer | string): Promise<Answer> {
    if (this.closing.signal.aborted) throw new UploadError('network', 'the collector client was closed');
    const earlier = this.revokedBy;
    if (earlier !== null) {
      throw new UploadError('revoked', `the collector revoked this probe (${earlier.reason}): nothing more is sent to it`, { status: 403, apiCode: REVOKED_CODE, revocation: earlier });
    }
    const answer = await this.exchange(method, path, headers, body);
    if (answer.status === 403) this.checkRevoked(answer);
    return answer;
  }

  /** A 403 probe_revoked: remembered (nothing more is sent), told once, and thrown as kind revoked. */
  private checkRevoked(answer: Answer): void {
    const api = apiError(answer.body);
    const revocation = revocationIn(answer.status, api, this.deps.clock.now());
    if (revocation === null) return;
    const first = this.revokedBy === null;
    this.revokedBy ??= revocation;
    if (first) {
      try {
        this.deps.onRevoked?.(revocation);
      } catch {
        // the owner's hook must not turn the answer into another failure
      }
    }
    throw new UploadError('revoked', `the collector answered 403 (probe_revoked: ${revocation.reason})`, { status: 403, apiCode: REVOKED_CODE, revocation });
  }

  private async exchange(method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: Buffer | string): Promise<Answer> {
    try {
      const res = await this.http.request(this.dispatcher, {
        path,
        method,
        headers: { accept: 'application/json', ...headers },
        ...(body !== undefined ? { body } : {}),
        signal: this.closing.signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) {
          res.body.destroy();
          throw new UploadError('http', `the collector's answer is larger than ${MAX_ANSWER_BYTES} bytes`, { status: res.statusCode });
        }
        chunks.push(chunk);
      }
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks, size) };
    } catch (err) {
      throw asUploadError(err);
    }
  }

  /** Open one connection for undici: TCP or a proxy tunnel, then for https the pinned handshake. */
  private async connect(): Promise<net.Socket> {
    const deadline = startDeadline('connect', this.endpoint.timeoutMs, this.closing.signal);
    const opened: Duplex[] = [];
    try {
      let stream: net.Socket;
      let dialled: net.Socket;
      if (this.proxy !== null) {
        dialled = await this.dial(this.proxy.host, this.proxy.port, deadline);
        opened.push(dialled);
        stream = dialled;
        if (this.proxy.protocol === 'https') {
          stream = await secureHandshake(
            dialled,
            {
              ...(isIP(this.proxy.host) === 0 ? { servername: this.proxy.host } : {}),
              ...(this.endpoint.proxyCa ? { ca: this.endpoint.proxyCa } : {}),
              rejectUnauthorized: true,
              ALPNProtocols: ['http/1.1'],
            },
            deadline,
          );
          opened.push(stream);
        }
        const target = { host: this.host, port: this.port };
        if (this.proxy.protocol === 'socks5') await socks5Connect(stream, target, this.proxy, deadline.signal);
        else await httpConnect(stream, target, this.proxy, deadline.signal);
      } else {
        dialled = await this.dial(this.host, this.port, deadline);
        opened.push(dialled);
        stream = dialled;
      }
      if (!this.secure) return stream;

      const started = this.deps.clock.monotonic();
      const socket = await secureHandshake(
        stream,
        {
          ...(isIP(this.host) === 0 ? { servername: this.host } : {}),
          // The pin is the trust: the chain is checked by checkPins, not against a CA store.
          rejectUnauthorized: false,
          checkServerIdentity: () => undefined,
          ALPNProtocols: ['http/1.1'],
        },
        deadline,
      );
      opened.push(socket);
      const rtt = this.deps.clock.monotonic() - started;
      const match = checkPins(presentedChain(socket), this.host, this.pins, this.deps.clock.now());
      if (!match.ok) {
        const evidence = handshakeEvidence(socket, { host: this.host, ip: dialled.remoteAddress ?? this.host, port: this.port }, rtt);
        throw new UploadError('pin_mismatch', `the collector's certificate does not match the pinned key, nothing was sent: ${match.reason}`, {
          pinEvidence: evidence,
        });
      }
      return socket;
    } catch (err) {
      // Outermost first: destroying a socket that a live TLSSocket wraps crashes Node 20 (segfault at the next GC).
      for (const s of opened.reverse()) s.destroy();
      if (this.closing.signal.aborted) throw new UploadError('network', 'the collector client was closed', { cause: err });
      throw asUploadError(err);
    } finally {
      deadline.dispose();
    }
  }

  /** TCP to host:port through the injected network: the address itself, or the names' A then AAAA answers in turn. */
  private async dial(host: string, port: number, deadline: Deadline): Promise<net.Socket> {
    let addresses: string[];
    if (isIP(host) !== 0) addresses = [host];
    else {
      addresses = [];
      let firstError: unknown = null;
      for (const family of [4, 6] as const) {
        try {
          addresses.push(...(await this.network.lookup(host, family, deadline.signal)));
        } catch (err) {
          if (deadline.signal.aborted) throw deadline.signal.reason;
          firstError ??= err;
        }
      }
      if (addresses.length === 0) throw firstError ?? new UploadError('network', `${host}: the name has no address`);
    }
    let last: unknown = null;
    for (const ip of addresses) {
      try {
        return await dialWithin(this.network, ip, port, deadline);
      } catch (err) {
        if (deadline.signal.aborted) throw err;
        last = err;
      }
    }
    throw last;
  }
}

/** Any failure below the client as an UploadError: one found in the cause chain, else a network failure. */
function asUploadError(err: unknown): UploadError {
  for (const node of errorTree(err)) if (node instanceof UploadError) return node;
  return new UploadError('network', `${classifyTlsError(err)} (${rawError(err)})`, { cause: err });
}

/** The shape a control item needs before the classifier reads it (the classifier is also guarded against the rest). */
function isControlItem(v: unknown): v is ControlEvidenceItem {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  const e = c['evidence'] as Record<string, unknown> | null | undefined;
  return (
    typeof c['target'] === 'string' &&
    typeof c['id'] === 'string' &&
    typeof c['at'] === 'string' &&
    !Number.isNaN(Date.parse(c['at'])) &&
    typeof e === 'object' &&
    e !== null &&
    ['dns', 'tcp', 'tls', 'http'].every((k) => Array.isArray(e[k]))
  );
}
