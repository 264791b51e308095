// measureDns against fake resolvers on loopback: real UDP sockets, Node's c-ares resolver and a real DoH endpoint.
import dgram from 'node:dgram';
import net from 'node:net';
import { Agent } from 'undici';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectSocket, type Deps, type Network } from '../probe/deps.js';
import { systemClock, type Clock } from '../common/clock.js';
import { InvalidArgumentError } from '../common/errors.js';
import { measureDns, SYSTEM_ATTEMPTS, type DnsOptions, type ResolverSpec } from '../probe/measure/dns.js';
import {
  fakeSystemLookup,
  startFakeDns,
  startFakeDns6,
  startFakeDoh,
  type DnsBehavior,
  type FakeZone,
} from './fakes/dns-server.js';

const YOUTUBE_V4 = '142.250.74.46';
const YOUTUBE_V6 = '2a00:1450:4001:82a::200e';
/** What Kazakh ISPs answered for blocked names. */
const KZ_BOGON = '10.10.34.36';

function isLoopback(address: string): boolean {
  return address === '::1' || (net.isIPv4(address) && address.startsWith('127.'));
}

function isBound(socket: dgram.Socket): boolean {
  try {
    socket.address();
    return true;
  } catch {
    return false;
  }
}

/**
 * A Network for these tests: real UDP sockets that refuse any destination outside loopback, TCP
 * dials only to loopback, and the given lookup. Records every socket and dial.
 */
class TestNetwork implements Network {
  readonly sockets: dgram.Socket[] = [];
  readonly closed = new Set<dgram.Socket>();
  readonly dials: Array<{ ip: string; port: number }> = [];
  constructor(private readonly lookupImpl: Network['lookup'] = () => Promise.reject(new Error('no lookup in this test'))) {}

  createUdpSocket(type: 'udp4' | 'udp6'): dgram.Socket {
    const socket = dgram.createSocket(type);
    this.sockets.push(socket);
    // Recorded when close() is called: the 'close' event itself only follows on the next tick.
    const close = socket.close.bind(socket);
    socket.close = ((...args: Parameters<typeof socket.close>) => {
      this.closed.add(socket);
      return close(...args);
    }) as typeof socket.close;
    const connect = socket.connect.bind(socket) as (port: number, address: string, cb?: (err?: Error) => void) => void;
    socket.connect = ((port: number, address: string, cb?: (err?: Error) => void) => {
      if (!isLoopback(address)) throw new Error(`test network refuses UDP to ${address}`);
      connect(port, address, cb);
    }) as typeof socket.connect;
    const send = socket.send.bind(socket) as (...args: unknown[]) => void;
    socket.send = ((...args: unknown[]) => {
      const address = args.find((a): a is string => typeof a === 'string' && net.isIP(a) !== 0);
      if (address !== undefined && !isLoopback(address)) throw new Error(`test network refuses UDP to ${address}`);
      send(...args);
    }) as typeof socket.send;
    return socket;
  }

  dialTcp(ip: string, port: number, signal: AbortSignal): Promise<net.Socket> {
    this.dials.push({ ip, port });
    if (!isLoopback(ip)) return Promise.reject(Object.assign(new Error(`test network refuses ${ip}`), { code: 'ECONNREFUSED' }));
    return connectSocket(ip, port, signal);
  }

  lookup(domain: string, family: 4 | 6, signal: AbortSignal): Promise<string[]> {
    return this.lookupImpl(domain, family, signal);
  }

  /** Every socket had close() called and no longer has a bound handle. */
  allClosed(): boolean {
    return this.sockets.every((s) => this.closed.has(s) && !isBound(s));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.useRealTimers();
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function fakeDns(zone: FakeZone) {
  const server = await startFakeDns(zone);
  cleanups.push(() => server.close());
  return server;
}

async function fakeDoh(zone: FakeZone) {
  const server = await startFakeDoh(zone);
  cleanups.push(() => server.close());
  return server;
}

function deps(network: Network, clock: Clock = systemClock): Deps {
  return { network, clock };
}

function udp(server: { address: string; port: number }): ResolverSpec {
  return { kind: 'udp', address: server.address, port: server.port };
}

function options(resolvers: ResolverSpec[], extra: Partial<DnsOptions> = {}): DnsOptions {
  return { resolvers, timeoutMs: 2000, listenWindowMs: 50, ...extra };
}

const always =
  (behavior: DnsBehavior): FakeZone =>
  () =>
    behavior;

describe('measureDns over UDP', () => {
  it('records an honest answer for A and AAAA', async () => {
    const server = await fakeDns(always({ kind: 'answer', addresses: [YOUTUBE_V4, YOUTUBE_V6], ttl: 120 }));
    const network = new TestNetwork();
    const result = await measureDns('www.youtube.com', options([udp(server)]), deps(network));

    expect(result.domain).toBe('www.youtube.com');
    expect(result.queries).toHaveLength(2);
    const [a, aaaa] = result.queries;
    for (const q of [a, aaaa]) {
      expect(q).toMatchObject({
        domain: 'www.youtube.com',
        resolver: `udp:127.0.0.1:${server.port}`,
        kind: 'udp',
        failure: null,
        operation: null,
        error: null,
        rcode: 'NOERROR',
        ttl: 120,
        late: [],
        bogons: [],
      });
      expect(q?.rtt_ms).toBeGreaterThanOrEqual(0);
      expect(q?.rtt_ms).toBeLessThan(2000);
    }
    expect(a).toMatchObject({ qtype: 'A', addresses: [YOUTUBE_V4] });
    expect(aaaa).toMatchObject({ qtype: 'AAAA', addresses: [YOUTUBE_V6] });
    expect(server.queries).toEqual(
      expect.arrayContaining([
        { name: 'www.youtube.com', qtype: 'A' },
        { name: 'www.youtube.com', qtype: 'AAAA' },
      ]),
    );
    expect(network.sockets).toHaveLength(2);
    expect(network.allClosed()).toBe(true);
  });

  it.each([
    [{ kind: 'nxdomain' }, 'NXDOMAIN', 'dns_nxdomain_error'],
    [{ kind: 'servfail' }, 'SERVFAIL', 'dns_servfail_error'],
    [{ kind: 'refused' }, 'REFUSED', 'dns_refused_error'],
    [{ kind: 'nodata' }, 'NOERROR', 'dns_no_answer'],
  ] as const)('maps %o to rcode %s and failure %s', async (behavior, rcode, failure) => {
    const server = await fakeDns(always(behavior));
    const network = new TestNetwork();
    const result = await measureDns('facebook.com', options([udp(server)], { qtypes: ['A'] }), deps(network));
    expect(result.queries).toHaveLength(1);
    const [q] = result.queries;
    expect(q).toMatchObject({ qtype: 'A', rcode, failure, operation: 'resolve', addresses: [], bogons: [] });
    expect(q?.error).toEqual(expect.any(String));
    expect(q?.rtt_ms).toEqual(expect.any(Number));
    expect(network.allClosed()).toBe(true);
  });

  it('flags an answer made only of bogons, keeping the addresses as received', async () => {
    const server = await fakeDns(always({ kind: 'answer', addresses: [KZ_BOGON] }));
    const result = await measureDns('www.facebook.com', options([udp(server)], { qtypes: ['A'] }), deps(new TestNetwork()));
    expect(result.queries[0]).toMatchObject({
      rcode: 'NOERROR',
      failure: 'dns_bogon_error',
      operation: 'resolve',
      addresses: [KZ_BOGON],
      bogons: [KZ_BOGON],
    });
  });

  it('lists a bogon beside public addresses without calling the answer a failure', async () => {
    const server = await fakeDns(always({ kind: 'answer', addresses: [YOUTUBE_V4, '127.0.0.1'] }));
    const result = await measureDns('youtube.com', options([udp(server)], { qtypes: ['A'] }), deps(new TestNetwork()));
    expect(result.queries[0]).toMatchObject({
      failure: null,
      addresses: [YOUTUBE_V4, '127.0.0.1'],
      bogons: ['127.0.0.1'],
    });
  });

  it('times out on a resolver that never answers, running all queries at once', async () => {
    const first = await fakeDns(always({ kind: 'drop' }));
    const second = await fakeDns(always({ kind: 'drop' }));
    const network = new TestNetwork();
    const started = performance.now();
    const result = await measureDns(
      'web.telegram.org',
      options([udp(first), udp(second)], { timeoutMs: 300 }),
      deps(network),
    );
    const elapsed = performance.now() - started;

    expect(result.queries).toHaveLength(4);
    for (const q of result.queries) {
      expect(q).toMatchObject({
        failure: 'generic_timeout_error',
        operation: 'resolve',
        rcode: null,
        addresses: [],
        rtt_ms: null,
        late: [],
      });
    }
    expect(first.queries).toHaveLength(2);
    expect(second.queries).toHaveLength(2);
    // Four sequential 300 ms timeouts would take 1200 ms.
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(900);
    expect(network.allClosed()).toBe(true);
  });

  it('reports ICMP port unreachable as connection_refused without waiting for the timeout', async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const network = new TestNetwork();
    const started = performance.now();
    const result = await measureDns(
      'signal.org',
      options([{ kind: 'udp', address: '127.0.0.1', port }], { qtypes: ['A'], timeoutMs: 5000 }),
      deps(network),
    );
    expect(result.queries[0]).toMatchObject({ failure: 'connection_refused', operation: 'resolve', rcode: null });
    expect(result.queries[0]?.error).toMatch(/ECONNREFUSED/);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(network.allClosed()).toBe(true);
  });

  it('catches an injected race: the first answer is the injected one, the real one lands in late', async () => {
    const server = await fakeDns(always({ kind: 'race', injected: [KZ_BOGON], real: [YOUTUBE_V4], delayMs: 60 }));
    const network = new TestNetwork();
    const result = await measureDns(
      'www.youtube.com',
      options([udp(server)], { qtypes: ['A'], listenWindowMs: 400 }),
      deps(network),
    );
    const [q] = result.queries;
    expect(q).toMatchObject({
      rcode: 'NOERROR',
      addresses: [KZ_BOGON],
      failure: 'dns_bogon_error',
      bogons: [KZ_BOGON],
    });
    expect(q?.late).toHaveLength(1);
    expect(q?.late[0]).toMatchObject({ rcode: 'NOERROR', addresses: [YOUTUBE_V4], cnames: [], ttl: 300 });
    expect(q?.late[0]?.after_ms).toBeGreaterThanOrEqual(50);
    expect(q?.late[0]?.after_ms).toBeGreaterThan(q?.rtt_ms ?? Infinity);
    expect(network.allClosed()).toBe(true);
  });

  it('lists a bogon that arrives late, while the first answer decides the failure', async () => {
    const server = await fakeDns(always({ kind: 'race', injected: [YOUTUBE_V4], real: [KZ_BOGON], delayMs: 30 }));
    const result = await measureDns(
      'www.youtube.com',
      options([udp(server)], { qtypes: ['A'], listenWindowMs: 300 }),
      deps(new TestNetwork()),
    );
    expect(result.queries[0]).toMatchObject({ addresses: [YOUTUBE_V4], failure: null, bogons: [KZ_BOGON] });
    expect(result.queries[0]?.late.map((r) => r.addresses)).toEqual([[KZ_BOGON]]);
  });

  it('stops listening when the window closes: a real answer after it is not recorded', async () => {
    const server = await fakeDns(always({ kind: 'race', injected: ['93.158.134.3'], real: [YOUTUBE_V4], delayMs: 400 }));
    const started = performance.now();
    const result = await measureDns(
      'www.youtube.com',
      options([udp(server)], { qtypes: ['A'], listenWindowMs: 100 }),
      deps(new TestNetwork()),
    );
    expect(result.queries[0]).toMatchObject({ addresses: ['93.158.134.3'], failure: null, late: [], bogons: [] });
    expect(performance.now() - started).toBeLessThan(400);
  });

  it('ignores malformed packets and responses with another id or question', async () => {
    const server = await fakeDns(
      always({ kind: 'garbage', then: { kind: 'answer', addresses: [YOUTUBE_V4, YOUTUBE_V6] } }),
    );
    const network = new TestNetwork();
    const result = await measureDns('youtube.com', options([udp(server)], { listenWindowMs: 150 }), deps(network));
    expect(result.queries.map((q) => [q.qtype, q.addresses, q.failure, q.late])).toEqual([
      ['A', [YOUTUBE_V4], null, []],
      ['AAAA', [YOUTUBE_V6], null, []],
    ]);
    expect(result.queries.flatMap((q) => q.bogons)).toEqual([]);
    expect(network.allClosed()).toBe(true);
  });

  it('on abort rejects with the reason, after closing every socket', async () => {
    const server = await fakeDns(always({ kind: 'drop' }));
    const network = new TestNetwork();
    const controller = new AbortController();
    const started = performance.now();
    const run = measureDns('instagram.com', options([udp(server)], { timeoutMs: 10_000, signal: controller.signal }), deps(network));
    await vi.waitFor(() => expect(server.queries).toHaveLength(2));
    const reason = new Error('run cancelled');
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(network.sockets).toHaveLength(2);
    expect(network.allClosed()).toBe(true);
  });

  it('on abort during the listening window rejects too and closes the socket', async () => {
    const server = await fakeDns(always({ kind: 'answer', addresses: [YOUTUBE_V4] }));
    const network = new TestNetwork();
    const controller = new AbortController();
    const run = measureDns(
      'youtube.com',
      options([udp(server)], { qtypes: ['A'], listenWindowMs: 10_000, signal: controller.signal }),
      deps(network),
    );
    await vi.waitFor(() => expect(server.queries).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the answer arrive
    controller.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    expect(network.allClosed()).toBe(true);
  });

  it('with an already aborted signal opens no socket', async () => {
    const network = new TestNetwork();
    const reason = new Error('already cancelled');
    await expect(
      measureDns('youtube.com', options([{ kind: 'udp', address: '127.0.0.1', port: 53 }], { signal: AbortSignal.abort(reason) }), deps(network)),
    ).rejects.toBe(reason);
    expect(network.sockets).toHaveLength(0);
  });

  describe('over IPv6', () => {
    let hasIpv6 = false;
    beforeAll(async () => {
      const socket = dgram.createSocket('udp6');
      hasIpv6 = await new Promise<boolean>((resolve) => {
        socket.once('error', () => resolve(false));
        socket.bind(0, '::1', () => resolve(true));
      });
      socket.close();
    });

    it('asks a resolver on ::1 through a udp6 socket and names it udp:[::1]:PORT', async (ctx) => {
      if (!hasIpv6) ctx.skip();
      const server = await startFakeDns6(always({ kind: 'answer', addresses: [YOUTUBE_V4, YOUTUBE_V6] }));
      cleanups.push(() => server.close());
      const network = new TestNetwork();
      const created: string[] = [];
      const create = network.createUdpSocket.bind(network);
      network.createUdpSocket = (type) => {
        created.push(type);
        return create(type);
      };
      const result = await measureDns('youtube.com', options([udp(server)]), deps(network));
      expect(created).toEqual(['udp6', 'udp6']);
      expect(result.queries.map((q) => [q.resolver, q.addresses])).toEqual([
        [`udp:[::1]:${server.port}`, [YOUTUBE_V4]],
        [`udp:[::1]:${server.port}`, [YOUTUBE_V6]],
      ]);
    });
  });
});

describe('measureDns resends a query that got no answer, as stub resolvers do (a lost datagram is not a silent resolver)', () => {
  it('UDP: the first query lost, the resend answered within the step: an answer, sent twice', async () => {
    let seen = 0;
    const server = await fakeDns(() => (++seen === 1 ? { kind: 'drop' } : { kind: 'answer', addresses: [YOUTUBE_V4] }));
    const network = new TestNetwork();
    const result = await measureDns('www.youtube.com', options([udp(server)], { qtypes: ['A'], resendMs: 100 }), deps(network));
    const [q] = result.queries;
    expect(q).toMatchObject({ failure: null, addresses: [YOUTUBE_V4], sends: 2 });
    expect(server.queries).toHaveLength(2);
    // Times count from the first send: the answer came after the resend.
    expect(q?.rtt_ms).toBeGreaterThanOrEqual(90);
    expect(network.allClosed()).toBe(true);
  });

  it('UDP: a resolver that never answers is asked every resendMs until the step ends, then times out', async () => {
    const server = await fakeDns(always({ kind: 'drop' }));
    const result = await measureDns('www.youtube.com', options([udp(server)], { qtypes: ['A'], resendMs: 100, timeoutMs: 450 }), deps(new TestNetwork()));
    const [q] = result.queries;
    expect(q?.failure).toBe('generic_timeout_error');
    expect(q?.sends).toBe(server.queries.length);
    expect(q?.sends).toBeGreaterThanOrEqual(4);
    expect(q?.sends).toBeLessThanOrEqual(5);
  });

  it('UDP: an answer at once is sent once', async () => {
    const server = await fakeDns(always({ kind: 'answer', addresses: [YOUTUBE_V4] }));
    const result = await measureDns('www.youtube.com', options([udp(server)], { qtypes: ['A'], resendMs: 100 }), deps(new TestNetwork()));
    expect(result.queries[0]?.sends).toBe(1);
  });

  it('system: a temporary failure (EAI_AGAIN) is asked again at once; NXDOMAIN is not', async () => {
    let calls = 0;
    const flaky = new TestNetwork(async (domain) => {
      calls++;
      if (domain === 'nx.example') throw Object.assign(new Error('getaddrinfo ENOTFOUND nx.example'), { code: 'ENOTFOUND' });
      if (calls === 1) throw Object.assign(new Error(`getaddrinfo EAI_AGAIN ${domain}`), { code: 'EAI_AGAIN' });
      return [YOUTUBE_V4];
    });
    const again = await measureDns('youtube.com', options([{ kind: 'system' }], { qtypes: ['A'] }), deps(flaky));
    expect(again.queries[0]).toMatchObject({ failure: null, addresses: [YOUTUBE_V4], sends: 2 });
    calls = 0;
    const nx = await measureDns('nx.example', options([{ kind: 'system' }], { qtypes: ['A'] }), deps(flaky));
    expect(nx.queries[0]).toMatchObject({ failure: 'dns_nxdomain_error', sends: 1 });
    expect(calls).toBe(1);
  });

  it('system: a resolver that keeps failing temporarily is asked at most SYSTEM_ATTEMPTS times', async () => {
    let calls = 0;
    const down = new TestNetwork(async (domain) => {
      calls++;
      throw Object.assign(new Error(`getaddrinfo EAI_AGAIN ${domain}`), { code: 'EAI_AGAIN' });
    });
    const r = await measureDns('youtube.com', options([{ kind: 'system' }], { qtypes: ['A'] }), deps(down));
    expect(r.queries[0]).toMatchObject({ failure: 'dns_servfail_error', sends: SYSTEM_ATTEMPTS });
    expect(calls).toBe(SYSTEM_ATTEMPTS);
  });
});

describe('measureDns via the system resolver', () => {
  const zone: FakeZone = (name) => {
    const behaviors: Record<string, DnsBehavior> = {
      'youtube.com': { kind: 'answer', addresses: [YOUTUBE_V4, YOUTUBE_V6] },
      'blocked.example': { kind: 'answer', addresses: [KZ_BOGON] },
      'nx.example': { kind: 'nxdomain' },
      'servfail.example': { kind: 'servfail' },
      'refused.example': { kind: 'refused' },
      'nodata.example': { kind: 'nodata' },
      'drop.example': { kind: 'drop' },
    };
    return behaviors[name] ?? { kind: 'nxdomain' };
  };

  it('records what the resolver returned for A and AAAA', async () => {
    const server = await fakeDns(zone);
    const network = new TestNetwork(fakeSystemLookup(server));
    const result = await measureDns('youtube.com', options([{ kind: 'system' }]), deps(network));
    expect(result.queries.map((q) => [q.qtype, q.resolver, q.kind, q.rcode, q.addresses, q.failure])).toEqual([
      ['A', 'system', 'system', 'NOERROR', [YOUTUBE_V4], null],
      ['AAAA', 'system', 'system', 'NOERROR', [YOUTUBE_V6], null],
    ]);
    for (const q of result.queries) {
      expect(q.rtt_ms).toEqual(expect.any(Number));
      expect(q.ttl).toBeNull();
      expect(q.late).toEqual([]);
    }
    expect(server.queries).toEqual(
      expect.arrayContaining([
        { name: 'youtube.com', qtype: 'A' },
        { name: 'youtube.com', qtype: 'AAAA' },
      ]),
    );
    expect(network.sockets).toHaveLength(0); // c-ares owns its sockets; measureDns opened none
  });

  it.each([
    ['nx.example', 'dns_nxdomain_error', /ENOTFOUND/],
    ['nodata.example', 'dns_no_answer', /ENODATA/],
    ['servfail.example', 'dns_servfail_error', /ESERVFAIL/],
    ['refused.example', 'dns_refused_error', /EREFUSED/],
    ['drop.example', 'generic_timeout_error', /ETIMEOUT/],
    ['blocked.example', 'dns_bogon_error', /10\.10\.34\.36/],
  ])('maps %s to %s', async (domain, failure, error) => {
    const server = await fakeDns(zone);
    const network = new TestNetwork(fakeSystemLookup(server, { timeoutMs: 200 }));
    const result = await measureDns(domain, options([{ kind: 'system' }], { qtypes: ['A'] }), deps(network));
    expect(result.queries[0]).toMatchObject({ failure, operation: 'resolve', resolver: 'system' });
    expect(result.queries[0]?.error).toMatch(error);
  });

  it('gives up after timeoutMs when the lookup hangs, and aborts the lookup', async () => {
    vi.useFakeTimers();
    let lookupSignal: AbortSignal | null = null;
    const network = new TestNetwork((_domain, _family, signal) => {
      lookupSignal = signal;
      return new Promise<string[]>(() => {});
    });
    const clock: Clock = { now: () => Date.now(), monotonic: () => Date.now() };
    let settled = false;
    const run = measureDns('youtube.com', options([{ kind: 'system' }], { qtypes: ['A'], timeoutMs: 1000 }), deps(network, clock));
    void run.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const result = await run;
    expect(result.queries[0]).toMatchObject({ failure: 'generic_timeout_error', operation: 'resolve', rtt_ms: null });
    expect((lookupSignal as AbortSignal | null)?.aborted).toBe(true);
  });

  it('measures rtt with the injected clock', async () => {
    vi.useFakeTimers();
    const network = new TestNetwork(
      () => new Promise<string[]>((resolve) => setTimeout(() => resolve([YOUTUBE_V4]), 120)),
    );
    const clock: Clock = { now: () => Date.now(), monotonic: () => Date.now() };
    const run = measureDns('youtube.com', options([{ kind: 'system' }], { qtypes: ['A'], timeoutMs: 1000 }), deps(network, clock));
    await vi.advanceTimersByTimeAsync(120);
    const result = await run;
    expect(result.queries[0]).toMatchObject({ failure: null, addresses: [YOUTUBE_V4], rtt_ms: 120 });
  });

  it('on abort rejects with the reason even if the lookup ignores its signal', async () => {
    const network = new TestNetwork(() => new Promise<string[]>(() => {}));
    const controller = new AbortController();
    const run = measureDns('youtube.com', options([{ kind: 'system' }], { signal: controller.signal }), deps(network));
    const reason = new Error('bye');
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
  });
});

describe('measureDns over DoH', () => {
  const zone: FakeZone = (name) => {
    if (name === 'nx.example') return { kind: 'nxdomain' };
    if (name === 'blocked.example') return { kind: 'answer', addresses: [KZ_BOGON] };
    if (name === 'drop.example') return { kind: 'drop' };
    return { kind: 'answer', addresses: [YOUTUBE_V4, YOUTUBE_V6], ttl: 60 };
  };

  function agent(): Agent {
    const a = new Agent();
    cleanups.push(() => a.destroy());
    return a;
  }

  it('posts application/dns-message and parses the answer (given dispatcher)', async () => {
    const server = await fakeDoh(zone);
    const network = new TestNetwork();
    const dispatcher = agent();
    const origins: string[] = [];
    dispatcher.on('connect', (origin) => origins.push(new URL(String(origin)).origin));
    const result = await measureDns(
      'youtube.com',
      options([{ kind: 'doh', url: server.url }], { dohDispatcher: dispatcher }),
      deps(network),
    );
    expect(result.queries.map((q) => [q.qtype, q.resolver, q.kind, q.rcode, q.addresses, q.ttl, q.failure])).toEqual([
      ['A', `doh:${server.url}`, 'doh', 'NOERROR', [YOUTUBE_V4], 60, null],
      ['AAAA', `doh:${server.url}`, 'doh', 'NOERROR', [YOUTUBE_V6], 60, null],
    ]);
    expect(server.queries).toEqual(
      expect.arrayContaining([
        { name: 'youtube.com', qtype: 'A' },
        { name: 'youtube.com', qtype: 'AAAA' },
      ]),
    );
    expect(origins.length).toBeGreaterThanOrEqual(1); // the given dispatcher was used
    expect(origins.every((o) => o === `http://127.0.0.1:${server.port}`)).toBe(true);
    expect(network.dials).toEqual([]);
  });

  it('connects through the injected network when no dispatcher is given, resolving the host with it', async () => {
    const server = await fakeDoh(zone);
    const lookups: string[] = [];
    const network = new TestNetwork(async (domain, family) => {
      lookups.push(`${domain}/${family}`);
      if (domain === 'doh.test' && family === 4) return ['127.0.0.1'];
      throw Object.assign(new Error(`no ${domain}`), { code: 'ENOTFOUND' });
    });
    const url = `http://doh.test:${server.port}/dns-query`;
    const result = await measureDns('youtube.com', options([{ kind: 'doh', url }]), deps(network));
    expect(result.queries.map((q) => [q.resolver, q.addresses, q.failure])).toEqual([
      [`doh:${url}`, [YOUTUBE_V4], null],
      [`doh:${url}`, [YOUTUBE_V6], null],
    ]);
    expect(lookups).toContain('doh.test/4');
    expect(network.dials.length).toBeGreaterThanOrEqual(1);
    expect(network.dials.every((d) => d.ip === '127.0.0.1' && d.port === server.port)).toBe(true);
  });

  it('maps NXDOMAIN and bogon answers like UDP', async () => {
    const server = await fakeDoh(zone);
    const dispatcher = agent();
    const nx = await measureDns('nx.example', options([{ kind: 'doh', url: server.url }], { qtypes: ['A'], dohDispatcher: dispatcher }), deps(new TestNetwork()));
    expect(nx.queries[0]).toMatchObject({ rcode: 'NXDOMAIN', failure: 'dns_nxdomain_error', operation: 'resolve' });
    const bogon = await measureDns('blocked.example', options([{ kind: 'doh', url: server.url }], { qtypes: ['A'], dohDispatcher: dispatcher }), deps(new TestNetwork()));
    expect(bogon.queries[0]).toMatchObject({ addresses: [KZ_BOGON], bogons: [KZ_BOGON], failure: 'dns_bogon_error' });
  });

  it.each([
    ['/blockpage', /HTTP 200 text\/html/],
    ['/nowhere', /HTTP 404/],
  ])('treats a non-DNS HTTP answer at %s as http_invalid_response', async (path, error) => {
    const server = await fakeDoh(zone);
    const url = `http://127.0.0.1:${server.port}${path}`;
    const result = await measureDns('youtube.com', options([{ kind: 'doh', url }], { qtypes: ['A'], dohDispatcher: agent() }), deps(new TestNetwork()));
    expect(result.queries[0]).toMatchObject({ failure: 'http_invalid_response', operation: 'resolve', rcode: null, addresses: [] });
    expect(result.queries[0]?.error).toMatch(error);
  });

  it('times out when the DoH server never answers', async () => {
    const server = await fakeDoh(zone);
    const started = performance.now();
    const result = await measureDns('drop.example', options([{ kind: 'doh', url: server.url }], { qtypes: ['A'], timeoutMs: 300, dohDispatcher: agent() }), deps(new TestNetwork()));
    expect(result.queries[0]).toMatchObject({ failure: 'generic_timeout_error', operation: 'resolve', rtt_ms: null });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('maps a refused connection through the injected network', async () => {
    const network = new TestNetwork();
    const result = await measureDns('youtube.com', options([{ kind: 'doh', url: 'https://192.0.2.53/dns-query' }], { qtypes: ['A'] }), deps(network));
    expect(network.dials).toEqual([{ ip: '192.0.2.53', port: 443 }]);
    expect(result.queries[0]).toMatchObject({ failure: 'connection_refused', operation: 'resolve' });
  });

  it('on abort rejects with the reason', async () => {
    const server = await fakeDoh(zone);
    const controller = new AbortController();
    const run = measureDns('drop.example', options([{ kind: 'doh', url: server.url }], { signal: controller.signal, dohDispatcher: agent() }), deps(new TestNetwork()));
    await vi.waitFor(() => expect(server.queries).toHaveLength(2));
    const reason = new Error('cancel DoH');
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
  });
});

describe('measureDns arguments', () => {
  const network = new TestNetwork();
  const good: ResolverSpec = { kind: 'udp', address: '127.0.0.1', port: 53 };
  it.each([
    ['no resolver', 'youtube.com', options([])],
    ['an unknown qtype', 'youtube.com', options([good], { qtypes: ['MX' as 'A'] })],
    ['no qtype', 'youtube.com', options([good], { qtypes: [] })],
    ['a UDP resolver given by name', 'youtube.com', options([{ kind: 'udp', address: 'dns.google', port: 53 }])],
    ['a port out of range', 'youtube.com', options([{ kind: 'udp', address: '127.0.0.1', port: 70_000 }])],
    ['a DoH URL that is not one', 'youtube.com', options([{ kind: 'doh', url: 'not a url' }])],
    ['an unknown resolver kind', 'youtube.com', options([{ kind: 'tcp' } as unknown as ResolverSpec])],
    ['a zero timeout', 'youtube.com', options([good], { timeoutMs: 0 })],
    ['a negative window', 'youtube.com', options([good], { listenWindowMs: -1 })],
    ['an empty domain', '', options([good])],
    ['an empty label', 'youtube..com', options([good])],
    ['a label over 63 bytes', `${'a'.repeat(64)}.com`, options([good])],
  ])('throws InvalidArgumentError for %s', async (_what, domain, opts) => {
    await expect(measureDns(domain, opts, deps(network))).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(network.sockets).toHaveLength(0);
  });
});
