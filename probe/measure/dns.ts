// DNS measurement: A/AAAA of one domain via the system resolver, plain UDP resolvers and DoH, listening past the first answer.
import { randomInt } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { createRequire } from 'node:module';
import type { DecodedPacket } from 'dns-packet';
import type { Agent, Dispatcher } from 'undici';
import { isBogon } from '../bogon.js';
import { redactAddresses } from '../redact.js';
import type { Deps } from '../deps.js';
import { InvalidArgumentError } from '../../common/errors.js';
import type { DnsObservation, DnsQueryObservation, DnsQueryType, DnsResponse, FailureFields, ResolverKind } from '../../contract/evidence.js';
import type { Failure } from '../../contract/failure.js';
import { classifyError, rawError } from './failure.js';
import { loadDoh } from './undici.js';

// dns-packet is CommonJS: required, not imported. An ESM import goes through Node's CommonJS-to-ESM
// translation (which parses the source for export names): for dns-packet that costs ~6 MB of RSS.
const dnsPacket = createRequire(import.meta.url)('dns-packet') as typeof import('dns-packet');

/**
 * A resolver: the system's (getaddrinfo), a UDP resolver by address, or DoH. A UDP resolver with a
 * `label` is named by it in the evidence instead of its address (the resolvers of resolv.conf).
 */
export type ResolverSpec =
  | { kind: 'system' }
  | { kind: 'udp'; address: string; port: number; label?: string }
  | { kind: 'doh'; url: string };

export interface DnsOptions {
  resolvers: ResolverSpec[];
  /** Query types asked of every resolver; default ['A', 'AAAA']. */
  qtypes?: DnsQueryType[];
  /** How long each query waits for its first answer. */
  timeoutMs: number;
  /** How long a UDP query keeps listening after its first answer, to catch injected races (e.g. 300). */
  listenWindowMs: number;
  /**
   * A UDP query with no answer yet is sent again every `resendMs` within its timeout, as stub
   * resolvers do (a lost datagram is not a silent resolver); default DEFAULT_RESEND_MS.
   */
  resendMs?: number;
  /** Cancels the run: measureDns then rejects with the signal's reason, after closing its sockets. */
  signal?: AbortSignal;
  /** Dispatcher for DoH requests (tests); by default DoH connects through deps.network. */
  dohDispatcher?: Dispatcher;
}

export const DEFAULT_QTYPES: readonly DnsQueryType[] = ['A', 'AAAA'];

/** How often an unanswered UDP query is sent again (the first resend of common stub resolvers). */
export const DEFAULT_RESEND_MS = 1000;

/** How many times the system resolver is asked when it fails with a temporary error (EAI_AGAIN) or times out. */
export const SYSTEM_ATTEMPTS = 3;

/** The largest DNS message; a DoH body beyond this is not a DNS response. */
const MAX_DNS_MESSAGE = 65_535;

/** How a resolver is named in the evidence: "system", "udp:1.1.1.1:53", "udp:[::1]:53", "doh:https://…". */
export function resolverName(spec: ResolverSpec): string {
  switch (spec.kind) {
    case 'system':
      return 'system';
    case 'udp':
      if (spec.label !== undefined) return spec.label;
      return net.isIPv6(spec.address) ? `udp:[${spec.address}]:${spec.port}` : `udp:${spec.address}:${spec.port}`;
    case 'doh':
      return `doh:${spec.url}`;
  }
}

/**
 * Resolve `domain` for every qtype with every resolver, all queries at once, and record what each
 * answered. Network failures are data in the observations; only bad arguments throw
 * (InvalidArgumentError). When `options.signal` aborts, every socket is closed and the promise
 * rejects with the signal's reason.
 */
export async function measureDns(domain: string, options: DnsOptions, deps: Deps): Promise<DnsObservation> {
  validateDomain(domain);
  const qtypes = options.qtypes ?? [...DEFAULT_QTYPES];
  validateOptions(options, qtypes);
  const { signal } = options;
  if (signal?.aborted) throw signal.reason;

  // Ends whatever DoH connection attempt is still pending once the run is over.
  const runOver = new AbortController();
  const onAbort = () => runOver.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const needsAgent = options.dohDispatcher === undefined && options.resolvers.some((r) => r.kind === 'doh');
  const agent = needsAgent ? networkAgent(deps, runOver.signal, options.timeoutMs) : null;
  try {
    const runs = options.resolvers.flatMap((spec) =>
      qtypes.map((qtype) => {
        const query: Query = { domain, qtype, spec, options, deps };
        switch (spec.kind) {
          case 'system':
            return systemQuery(query);
          case 'udp':
            return udpQuery(query, spec);
          case 'doh':
            return dohQuery(query, spec, options.dohDispatcher ?? (agent as Agent));
        }
      }),
    );
    // Wait for every query (each closes its own socket) before reporting anything.
    const settled = await Promise.allSettled(runs);
    if (signal?.aborted) throw signal.reason;
    return {
      domain,
      queries: settled.map((s) => {
        if (s.status === 'fulfilled') return s.value;
        throw s.reason; // a programming fault inside a query
      }),
    };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    runOver.abort();
    if (agent !== null) await agent.destroy().catch(() => {});
  }
}

interface Query {
  domain: string;
  qtype: DnsQueryType;
  spec: ResolverSpec;
  options: DnsOptions;
  deps: Deps;
}

/** A decoded response that answers our question. */
interface Answer {
  rcode: string;
  addresses: string[];
  cnames: string[];
  ttl: number | null;
}

function blankObservation(q: Query, kind: ResolverKind): DnsQueryObservation {
  return {
    domain: q.domain,
    qtype: q.qtype,
    resolver: resolverName(q.spec),
    kind,
    failure: null,
    operation: null,
    error: null,
    rcode: null,
    addresses: [],
    ttl: null,
    rtt_ms: null,
    late: [],
    bogons: [],
  };
}

function failed(failure: Failure, error: string): FailureFields {
  return { failure, operation: 'resolve', error };
}

const OK: FailureFields = { failure: null, operation: null, error: null };

const RCODE_FAILURES: Record<string, Failure> = {
  NXDOMAIN: 'dns_nxdomain_error',
  SERVFAIL: 'dns_servfail_error',
  REFUSED: 'dns_refused_error',
};

/** The bogon addresses among `addresses`, in order. */
function bogonsAmong(addresses: string[]): string[] {
  return addresses.filter((a) => net.isIP(a) !== 0 && isBogon(a));
}

/** What the first answer means: an error rcode, no address, only bogons, or fine. */
function judge(answer: Answer): FailureFields {
  if (answer.rcode !== 'NOERROR') {
    return failed(RCODE_FAILURES[answer.rcode] ?? 'unknown_failure', `rcode ${answer.rcode}`);
  }
  if (answer.addresses.length === 0) return failed('dns_no_answer', 'NOERROR without an address record');
  const bogons = bogonsAmong(answer.addresses);
  if (bogons.length === answer.addresses.length) {
    return failed('dns_bogon_error', `every address is a bogon: ${bogons.join(', ')}`);
  }
  return OK;
}

/** The observation for a first answer (and any late ones). */
function answered(q: Query, kind: ResolverKind, first: Answer, rtt: number, late: DnsResponse[]): DnsQueryObservation {
  const bogons = [...new Set([...bogonsAmong(first.addresses), ...late.flatMap((r) => bogonsAmong(r.addresses))])];
  return {
    ...blankObservation(q, kind),
    ...judge(first),
    rcode: first.rcode,
    addresses: first.addresses,
    ttl: first.ttl,
    rtt_ms: rtt,
    late,
    bogons,
  };
}

function sameName(a: string, b: string): boolean {
  const norm = (s: string) => s.toLowerCase().replace(/\.$/, '');
  return norm(a) === norm(b);
}

function encodeQuery(id: number, domain: string, qtype: DnsQueryType): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: qtype, name: domain, class: 'IN' }],
  });
}

/** Decode `message` if it is a response to our query (same id and question); null otherwise. */
function parseAnswer(message: Buffer, id: number, domain: string, qtype: DnsQueryType): Answer | null {
  let decoded: DecodedPacket;
  try {
    decoded = dnsPacket.decode(message);
  } catch {
    return null; // malformed
  }
  const question = decoded.questions?.[0];
  if (decoded.type !== 'response' || decoded.id !== id || question === undefined) return null;
  if (question.type !== qtype || !sameName(question.name, domain)) return null;
  const addresses: string[] = [];
  const cnames: string[] = [];
  const ttls: number[] = [];
  for (const record of decoded.answers ?? []) {
    if (record.type === qtype && typeof record.data === 'string' && net.isIP(record.data) !== 0) {
      addresses.push(record.data);
      if (typeof record.ttl === 'number') ttls.push(record.ttl);
    } else if (record.type === 'CNAME' && typeof record.data === 'string') {
      cnames.push(record.data);
      if (typeof record.ttl === 'number') ttls.push(record.ttl);
    }
  }
  const rcode = (decoded as { rcode?: unknown }).rcode;
  return {
    rcode: typeof rcode === 'string' ? rcode : 'UNKNOWN',
    addresses,
    cnames,
    ttl: addresses.length > 0 && ttls.length > 0 ? Math.min(...ttls) : null,
  };
}

/** A promise that rejects with the signal's reason when it aborts, and a function to stop listening. */
function abortion(signal: AbortSignal | undefined): { promise: Promise<never>; dispose(): void } {
  if (signal === undefined) return { promise: new Promise<never>(() => {}), dispose() {} };
  let onAbort = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

// ---------------------------------------------------------------------------------------------
// system resolver

/** A failure of getaddrinfo worth asking again: EAI_AGAIN (read as SERVFAIL) or a timeout, never NXDOMAIN or a local fault. */
function isTemporary(error: unknown, failure: Failure): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'EAI_AGAIN' || failure === 'generic_timeout_error';
}

async function systemQuery(q: Query): Promise<DnsQueryObservation> {
  const { deps, options, domain, qtype } = q;
  if (options.signal?.aborted) throw options.signal.reason;
  const controller = new AbortController();
  const abort = abortion(options.signal);
  const forward = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', forward, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
  });
  const start = deps.clock.monotonic();
  const ask = () =>
    Promise.resolve()
      .then(() => deps.network.lookup(domain, qtype === 'A' ? 4 : 6, controller.signal))
      .then(
        (addresses) => ({ addresses }),
        (error: unknown) => ({ error }),
      );
  try {
    // A temporary failure (EAI_AGAIN: the resolver's answer, or the query, was lost) is asked again
    // at once while the step's time lasts, as a stub resolver's `attempts` would.
    let sends = 0;
    for (;;) {
      sends++;
      const outcome = await Promise.race([ask(), timeout, abort.promise]);
      if (outcome === 'timeout') {
        controller.abort(new DOMException(`no answer within ${options.timeoutMs} ms`, 'TimeoutError'));
        return {
          ...blankObservation(q, 'system'),
          ...failed('generic_timeout_error', `system resolver gave no answer within ${options.timeoutMs} ms`),
          sends,
        };
      }
      const rtt = deps.clock.monotonic() - start;
      if ('error' in outcome) {
        if (options.signal?.aborted) throw options.signal.reason;
        const failure = classifyError('resolve', outcome.error);
        if (sends < SYSTEM_ATTEMPTS && isTemporary(outcome.error, failure)) continue;
        return {
          ...blankObservation(q, 'system'),
          ...failed(failure, rawError(outcome.error)),
          rtt_ms: failure === 'generic_timeout_error' ? null : rtt,
          sends,
        };
      }
      return { ...answered(q, 'system', { rcode: 'NOERROR', addresses: outcome.addresses, cnames: [], ttl: null }, rtt, []), sends };
    }
  } finally {
    clearTimeout(timer);
    abort.dispose();
    options.signal?.removeEventListener('abort', forward);
    if (!controller.signal.aborted) controller.abort();
  }
}

// ---------------------------------------------------------------------------------------------
// plain UDP

function udpQuery(q: Query, spec: { address: string; port: number; label?: string }): Promise<DnsQueryObservation> {
  const { deps, options, domain, qtype } = q;
  const { signal } = options;
  return new Promise<DnsQueryObservation>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const id = randomInt(0x10000);
    const packet = encodeQuery(id, domain, qtype);
    const socket = deps.network.createUdpSocket(net.isIPv6(spec.address) ? 'udp6' : 'udp4');
    let sentAt = 0;
    let sends = 0;
    let first: { answer: Answer; rtt: number } | null = null;
    const late: DnsResponse[] = [];
    let timer: NodeJS.Timeout | undefined;
    let resend: NodeJS.Timeout | undefined;
    let done = false;

    const finish = (result: { observation: DnsQueryObservation } | { abort: unknown }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(resend);
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('message');
      socket.on('error', () => {}); // errors after the end change nothing
      try {
        socket.close();
      } catch {
        // already closed
      }
      if ('abort' in result) reject(result.abort);
      else resolve(result.observation);
    };
    const finishAnswered = () => {
      if (first === null) return;
      finish({ observation: { ...answered(q, 'udp', first.answer, first.rtt, late), sends } });
    };
    // A labelled resolver's address stays out of the evidence, error texts included.
    const fail = (failure: Failure, error: string) =>
      finish({ observation: { ...blankObservation(q, 'udp'), ...failed(failure, spec.label !== undefined ? redactAddresses(error) : error), sends } });
    const onAbort = () => finish({ abort: signal?.reason });
    signal?.addEventListener('abort', onAbort, { once: true });

    socket.on('message', (message: Buffer) => {
      const answer = parseAnswer(message, id, domain, qtype);
      if (answer === null || done) return;
      const after = Math.round((deps.clock.monotonic() - sentAt) * 100) / 100;
      if (first === null) {
        first = { answer, rtt: after };
        clearTimeout(timer);
        clearInterval(resend);
        if (options.listenWindowMs === 0) finishAnswered();
        else timer = setTimeout(finishAnswered, options.listenWindowMs);
      } else {
        late.push({ ...answer, after_ms: after });
      }
    });
    socket.on('error', (err: Error) => {
      // After an answer, an error (e.g. ICMP unreachable for a late packet) ends listening early.
      if (first !== null) finishAnswered();
      else fail(classifyError('resolve', err), rawError(err));
    });

    timer = setTimeout(
      () => fail('generic_timeout_error', `no response within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    // A connected socket only accepts packets from the server's address (an on-path injector spoofs
    // it) and reports ICMP port unreachable as ECONNREFUSED instead of waiting for the timeout.
    socket.connect(spec.port, spec.address, (err?: Error) => {
      if (done) return;
      if (err) {
        fail(classifyError('resolve', err), rawError(err));
        return;
      }
      sentAt = deps.clock.monotonic();
      // The same query (same id) again while no answer came: any copy's answer is the answer, and
      // the times stay counted from the first send.
      const send = () => {
        sends++;
        socket.send(packet, (sendErr) => {
          if (sendErr && !done) fail(classifyError('resolve', sendErr), rawError(sendErr));
        });
      };
      send();
      const every = options.resendMs ?? DEFAULT_RESEND_MS;
      if (every > 0 && every < options.timeoutMs) {
        resend = setInterval(() => {
          if (!done && first === null) send();
        }, every);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// DNS over HTTPS (RFC 8484)

class DohResponseError extends Error {}

async function readCapped(body: AsyncIterable<Buffer | Uint8Array>, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

async function dohQuery(q: Query, spec: { url: string }, dispatcher: Dispatcher): Promise<DnsQueryObservation> {
  const { deps, options, domain, qtype } = q;
  const { signal } = options;
  if (signal?.aborted) throw signal.reason;
  const controller = new AbortController();
  const forward = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', forward, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`no answer within ${options.timeoutMs} ms`, 'TimeoutError'));
  }, options.timeoutMs);
  const start = deps.clock.monotonic();
  try {
    // RFC 8484 4.1: id 0, so that the response is cacheable.
    const response = await loadDoh().request(spec.url, {
      method: 'POST',
      headers: { 'content-type': 'application/dns-message', accept: 'application/dns-message' },
      body: encodeQuery(0, domain, qtype),
      signal: controller.signal,
      dispatcher,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
    // Destroying an unfinished body emits an error; nothing more is to be learnt from it.
    response.body.on('error', () => {});
    const contentType = String(response.headers['content-type'] ?? '');
    if (response.statusCode !== 200 || !/^application\/dns-message\b/i.test(contentType)) {
      response.body.destroy();
      throw new DohResponseError(`DoH answered HTTP ${response.statusCode} ${contentType || 'without content-type'}`);
    }
    const message = await readCapped(response.body, MAX_DNS_MESSAGE);
    const rtt = deps.clock.monotonic() - start;
    if (message === null) {
      response.body.destroy();
      throw new DohResponseError(`DoH body larger than ${MAX_DNS_MESSAGE} bytes`);
    }
    const answer = parseAnswer(message, 0, domain, qtype);
    if (answer === null) throw new DohResponseError('DoH body is not a DNS response to the query');
    return answered(q, 'doh', answer, rtt, []);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    const observation = blankObservation(q, 'doh');
    if (err instanceof DohResponseError) return { ...observation, ...failed('http_invalid_response', err.message) };
    if (timedOut) {
      return { ...observation, ...failed('generic_timeout_error', `DoH gave no answer within ${options.timeoutMs} ms`) };
    }
    return { ...observation, ...failed(classifyError('resolve', err), rawError(err)) };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forward);
  }
}

/** The first address of `host` through the injected system resolver (IPv4 first). */
async function resolveHost(deps: Deps, host: string, signal: AbortSignal): Promise<string> {
  let lastError: unknown = null;
  for (const family of [4, 6] as const) {
    try {
      const [address] = await deps.network.lookup(host, family, signal);
      if (address !== undefined) return address;
    } catch (err) {
      if (signal.aborted) throw err;
      lastError = err;
    }
  }
  throw lastError ?? Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' });
}

function upgradeTls(socket: net.Socket, servername: string | undefined, signal: AbortSignal): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket, servername, ALPNProtocols: ['http/1.1'] });
    const onAbort = () => {
      secure.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    secure.once('secureConnect', () => {
      signal.removeEventListener('abort', onAbort);
      secure.removeAllListeners('error');
      resolve(secure);
    });
    secure.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      secure.destroy();
      reject(err);
    });
  });
}

/**
 * An undici Agent whose connections go through deps.network (name lookup, TCP dial, then TLS).
 * undici does not hand a request's abort to its connector, so each connection attempt carries its
 * own deadline: a blackholed DoH server fails in `timeoutMs` instead of holding the query forever.
 */
function networkAgent(deps: Deps, runSignal: AbortSignal, timeoutMs: number): Agent {
  return new (loadDoh().Agent)({
    connect(opts, callback) {
      const host = opts.hostname.replace(/^\[(.*)\]$/, '$1');
      const https = opts.protocol === 'https:';
      const port = Number(opts.port) || (https ? 443 : 80);
      const deadline = new AbortController();
      const timer = setTimeout(
        () => deadline.abort(Object.assign(new Error(`connect to DoH server timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
        timeoutMs,
      );
      const signal = AbortSignal.any([runSignal, deadline.signal]);
      (async () => {
        const ip = net.isIP(host) !== 0 ? host : await resolveHost(deps, host, signal);
        const socket = await deps.network.dialTcp(ip, port, signal);
        if (!https) return socket;
        const servername = opts.servername || (net.isIP(host) === 0 ? host : undefined);
        return upgradeTls(socket, servername, signal);
      })()
        .finally(() => clearTimeout(timer))
        .then(
          (socket) => callback(null, socket),
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err)), null),
        );
    },
  });
}

// ---------------------------------------------------------------------------------------------
// arguments

function validateDomain(domain: string): void {
  if (typeof domain !== 'string') throw new InvalidArgumentError('domain must be a string');
  const name = domain.replace(/\.$/, '');
  if (name.length === 0 || name.length > 253) {
    throw new InvalidArgumentError(`not a domain name: ${JSON.stringify(domain)}`);
  }
  for (const label of name.split('.')) {
    if (label.length === 0 || label.length > 63) {
      throw new InvalidArgumentError(`not a domain name: ${JSON.stringify(domain)}`);
    }
  }
}

function validateOptions(options: DnsOptions, qtypes: DnsQueryType[]): void {
  if (!Array.isArray(options.resolvers) || options.resolvers.length === 0) {
    throw new InvalidArgumentError('measureDns needs at least one resolver');
  }
  for (const spec of options.resolvers) {
    switch (spec?.kind) {
      case 'system':
        break;
      case 'udp':
        if (net.isIP(spec.address) === 0) {
          throw new InvalidArgumentError(`UDP resolver address is not an IP address: ${JSON.stringify(spec.address)}`);
        }
        if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65_535) {
          throw new InvalidArgumentError(`UDP resolver port out of range: ${spec.port}`);
        }
        break;
      case 'doh': {
        let url: URL;
        try {
          url = new URL(spec.url);
        } catch {
          throw new InvalidArgumentError(`DoH resolver URL is invalid: ${JSON.stringify(spec.url)}`);
        }
        if (url.protocol !== 'https:' && url.protocol !== 'http:') {
          throw new InvalidArgumentError(`DoH resolver URL must be http(s): ${spec.url}`);
        }
        break;
      }
      default:
        throw new InvalidArgumentError(`unknown resolver kind: ${JSON.stringify((spec as { kind?: unknown })?.kind)}`);
    }
  }
  if (!Array.isArray(qtypes) || qtypes.length === 0) throw new InvalidArgumentError('measureDns needs at least one qtype');
  for (const qtype of qtypes) {
    if (qtype !== 'A' && qtype !== 'AAAA') throw new InvalidArgumentError(`unsupported qtype: ${JSON.stringify(qtype)}`);
  }
  if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0) {
    throw new InvalidArgumentError(`timeoutMs must be a positive number: ${options.timeoutMs}`);
  }
  if (!Number.isFinite(options.listenWindowMs) || options.listenWindowMs < 0) {
    throw new InvalidArgumentError(`listenWindowMs must be zero or more: ${options.listenWindowMs}`);
  }
}
