// Fake DNS servers for tests: a real UDP resolver and a DoH endpoint on loopback, answering from a zone function.
import dgram from 'node:dgram';
import dns from 'node:dns';
import http from 'node:http';
import net from 'node:net';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import type { Network } from '../../probe/deps.js';

export type DnsBehavior =
  | { kind: 'answer'; addresses: string[]; ttl?: number }
  | { kind: 'nxdomain' }
  | { kind: 'servfail' }
  | { kind: 'refused' }
  | { kind: 'nodata' }
  /** Never answers (the client times out). */
  | { kind: 'drop' }
  /** An on-path injector: a wrong answer first, the real one delayMs later, same id. */
  | { kind: 'race'; injected: string[]; real: string[]; delayMs: number }
  /**
   * Noise before the answer: a malformed packet, a response with another id and a response to
   * another question, then behaves as `then`.
   */
  | { kind: 'garbage'; then: DnsBehavior };

export type FakeZone = (name: string, qtype: 'A' | 'AAAA') => DnsBehavior;

export interface FakeDnsServer<Address extends string = '127.0.0.1'> {
  address: Address;
  port: number;
  /** Every well-formed query received, in order. */
  queries: Array<{ name: string; qtype: string }>;
  close(): Promise<void>;
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const DEFAULT_TTL = 300;

interface Question {
  name: string;
  type: string;
}

/** A response to `query` with the given rcode and the addresses of the question's family. */
function response(id: number, question: Question, rcode: number, addresses: string[], ttl: number): Buffer {
  const family = question.type === 'AAAA' ? 6 : 4;
  const records = addresses.filter((a) => net.isIP(a) === family);
  return dnsPacket.encode({
    type: 'response',
    id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: [{ name: question.name, type: question.type as 'A' | 'AAAA', class: 'IN' }],
    answers: records.map((data) => ({
      type: question.type as 'A' | 'AAAA',
      class: 'IN' as const,
      name: question.name,
      ttl,
      data,
    })),
  });
}

/**
 * The packets to send for one behaviour, each with its delay after the query arrived. An empty list
 * means silence (drop).
 */
function plan(behavior: DnsBehavior, id: number, question: Question): Array<{ delayMs: number; packet: Buffer }> {
  switch (behavior.kind) {
    case 'answer':
      return [{ delayMs: 0, packet: response(id, question, RCODE.NOERROR, behavior.addresses, behavior.ttl ?? DEFAULT_TTL) }];
    case 'nxdomain':
      return [{ delayMs: 0, packet: response(id, question, RCODE.NXDOMAIN, [], DEFAULT_TTL) }];
    case 'servfail':
      return [{ delayMs: 0, packet: response(id, question, RCODE.SERVFAIL, [], DEFAULT_TTL) }];
    case 'refused':
      return [{ delayMs: 0, packet: response(id, question, RCODE.REFUSED, [], DEFAULT_TTL) }];
    case 'nodata':
      return [{ delayMs: 0, packet: response(id, question, RCODE.NOERROR, [], DEFAULT_TTL) }];
    case 'drop':
      return [];
    case 'race':
      return [
        { delayMs: 0, packet: response(id, question, RCODE.NOERROR, behavior.injected, DEFAULT_TTL) },
        { delayMs: behavior.delayMs, packet: response(id, question, RCODE.NOERROR, behavior.real, DEFAULT_TTL) },
      ];
    case 'garbage': {
      const otherId = (id + 1) & 0xffff;
      const otherQuestion = { name: `other-${question.name}`, type: question.type };
      return [
        { delayMs: 0, packet: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0xff]) },
        // A header claiming one question and one answer, followed by nothing.
        { delayMs: 0, packet: Buffer.from([id >> 8, id & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]) },
        { delayMs: 0, packet: response(otherId, question, RCODE.NOERROR, ['10.1.2.3', 'fd00::1'], DEFAULT_TTL) },
        { delayMs: 0, packet: response(id, otherQuestion, RCODE.NOERROR, ['10.1.2.4', 'fd00::2'], DEFAULT_TTL) },
        ...plan(behavior.then, id, question),
      ];
    }
  }
}

/** The parsed A/AAAA question of a query packet, or null for anything else. */
function parseQuery(message: Buffer): { id: number; question: Question } | null {
  let decoded: DecodedPacket;
  try {
    decoded = dnsPacket.decode(message);
  } catch {
    return null;
  }
  const question = decoded.questions?.[0];
  if (decoded.type !== 'query' || question === undefined) return null;
  return { id: decoded.id ?? 0, question: { name: question.name, type: question.type } };
}

export interface FakeDnsOptions {
  /**
   * SO_RCVBUF of the server's socket, in bytes (capped by the kernel). The default (~200 kB on Linux)
   * holds a few hundred queries: a lab that sends a larger burst at once raises it, or loses queries.
   */
  recvBufferSize?: number;
}

async function startOn<Address extends '127.0.0.1' | '::1'>(
  address: Address,
  zone: FakeZone,
  options: FakeDnsOptions = {},
): Promise<FakeDnsServer<Address>> {
  const socket = dgram.createSocket({
    type: address === '::1' ? 'udp6' : 'udp4',
    ...(options.recvBufferSize !== undefined ? { recvBufferSize: options.recvBufferSize } : {}),
  });
  const timers = new Set<NodeJS.Timeout>();
  const queries: Array<{ name: string; qtype: string }> = [];
  let closed = false;

  socket.on('message', (message, rinfo) => {
    const query = parseQuery(message);
    if (query === null) return;
    const { id, question } = query;
    queries.push({ name: question.name, qtype: question.type });
    const behavior: DnsBehavior =
      question.type === 'A' || question.type === 'AAAA' ? zone(question.name, question.type) : { kind: 'nodata' };
    for (const { delayMs, packet } of plan(behavior, id, question)) {
      const send = () => {
        if (!closed) socket.send(packet, rinfo.port, rinfo.address);
      };
      if (delayMs === 0) send();
      else {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, delayMs);
        timers.add(timer);
      }
    }
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // A client that went away makes sends fail with ECONNREFUSED on some systems: not the server's problem.
  socket.on('error', () => {});

  return {
    address,
    port: socket.address().port,
    queries,
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

/** A UDP DNS server on 127.0.0.1 (ephemeral port) answering A/AAAA queries from `zone`. */
export function startFakeDns(zone: FakeZone, options: FakeDnsOptions = {}): Promise<FakeDnsServer<'127.0.0.1'>> {
  return startOn('127.0.0.1', zone, options);
}

/** The same server on the IPv6 loopback ::1. */
export function startFakeDns6(zone: FakeZone): Promise<FakeDnsServer<'::1'>> {
  return startOn('::1', zone);
}

/**
 * A `lookup` for an injected Network that asks `server` through Node's c-ares resolver, the way the
 * system resolver would. Errors keep their c-ares codes: ENOTFOUND (NXDOMAIN), ENODATA (no records),
 * ESERVFAIL, EREFUSED, ETIMEOUT. An abort rejects with the signal's reason.
 */
export function fakeSystemLookup(
  server: { address: string; port: number },
  options: { timeoutMs?: number } = {},
): Network['lookup'] {
  const host = net.isIPv6(server.address) ? `[${server.address}]` : server.address;
  return async (domain, family, signal) => {
    if (signal.aborted) throw signal.reason;
    const resolver = new dns.promises.Resolver({ timeout: options.timeoutMs ?? 1000, tries: 1 });
    resolver.setServers([`${host}:${server.port}`]);
    const onAbort = () => resolver.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return family === 4 ? await resolver.resolve4(domain) : await resolver.resolve6(domain);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
}

export interface FakeDohServer {
  /** The DoH endpoint, e.g. http://127.0.0.1:PORT/dns-query. */
  url: string;
  port: number;
  queries: Array<{ name: string; qtype: string }>;
  close(): Promise<void>;
}

/**
 * An RFC 8484 endpoint (POST application/dns-message at /dns-query) over plain HTTP on 127.0.0.1,
 * answering from the same kind of zone. A race is answered with the real addresses (an on-path
 * injector cannot race inside HTTPS); drop never answers. Path /blockpage answers an HTML page with
 * status 200; any other path is 404.
 */
export async function startFakeDoh(zone: FakeZone): Promise<FakeDohServer> {
  const queries: Array<{ name: string; qtype: string }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url === '/blockpage') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><title>Blocked</title></html>');
        return;
      }
      if (req.url !== '/dns-query') {
        res.writeHead(404).end();
        return;
      }
      const query = req.method === 'POST' && req.headers['content-type'] === 'application/dns-message'
        ? parseQuery(Buffer.concat(chunks))
        : null;
      if (query === null) {
        res.writeHead(400).end();
        return;
      }
      const { id, question } = query;
      queries.push({ name: question.name, qtype: question.type });
      let behavior: DnsBehavior =
        question.type === 'A' || question.type === 'AAAA' ? zone(question.name, question.type) : { kind: 'nodata' };
      while (behavior.kind === 'garbage') behavior = behavior.then;
      if (behavior.kind === 'race') behavior = { kind: 'answer', addresses: behavior.real };
      const packet = plan(behavior, id, question)[0]?.packet;
      if (packet === undefined) return; // drop: leave the request hanging
      res.writeHead(200, { 'content-type': 'application/dns-message', 'content-length': packet.length }).end(packet);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/dns-query`,
    port,
    queries,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
