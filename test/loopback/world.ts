// A fake internet on loopback for the catalogue's loopback tier: honest servers, the censor's devices, and the probe's view of them.
import net from 'node:net';
import type http from 'node:http';
import { type Deps } from '../../probe/deps.js';
import { systemClock } from '../../common/clock.js';
import { defaultProbeConfig } from '../../probe/config/probe-config.js';
import { engineOptionsFrom, type EngineOptions } from '../../probe/engine/options.js';
import type { ResolverSpec } from '../../probe/measure/dns.js';
import type { Target } from '../../contract/target.js';
import { loadTrust } from '../../probe/trust.js';
import { fakeSystemLookup, startFakeDns, startFakeDoh, type DnsBehavior, type FakeZone } from '../fakes/dns-server.js';
import { blockPageHtml, startBlockPageServer, startGarbageServer, startHttpServer } from '../fakes/http-server.js';
import { listenLoopback, type Listener } from '../fakes/listener.js';
import { endpointKey, loopbackNetwork } from '../fakes/loopback-network.js';
import { makeLabPki, type CertKey, type LabPki } from '../fakes/pki.js';
import { refusedPort, startBlackhole, startRequestResetter, startResetListener } from '../fakes/tcp-censor.js';
import { startHandshakeDelayer, trickle } from '../fakes/throttle.js';
import { respond, startHelloStaller, startSniResetter, startTlsServer } from '../fakes/tls-server.js';
import { REAL, type Censor, type ScenarioCase, type ScenarioTarget, type TlsCensor } from './scenario.js';

/** The path of the bulk resource every honest server has, and its size (more than the probe reads). */
export const BULK_PATH = '/static/bulk.bin';
export const BULK_BYTES = 512 * 1024;

/** The canaries every scenario run carries, as a real run does (the international one with a bulk resource). */
export const CANARIES: Target[] = [
  canary('canary-domestic', 'domestic', 'egov.kz'),
  { ...canary('canary-international', 'international', 'www.wikipedia.org'), bulk: `https://www.wikipedia.org${BULK_PATH}` },
];

function canary(id: string, where: 'domestic' | 'international', domain: string): Target {
  return {
    id,
    name: id,
    category: 'canary',
    canary: where,
    domains: [domain],
    endpoints: [],
    ports: [443],
    tls_ports: [443],
    http: { path: '/', status: [200] },
  };
}

export function toTarget(t: ScenarioTarget): Target {
  const ports = t.ports ?? [443];
  return {
    id: t.id,
    name: t.id,
    category: 'social',
    domains: t.domains ?? [],
    endpoints: t.endpoints ?? [],
    ports,
    tls_ports: t.tls_ports ?? (ports.includes(443) ? [443] : []),
    http: t.http === undefined ? { path: '/', status: [200] } : t.http,
    ...(t.bulk !== undefined ? { bulk: t.bulk } : {}),
  };
}

/** A stable "public" address per domain (never dialled: the loopback network maps it). */
export function addressOf(domain: string, universe: string[]): string {
  const i = universe.indexOf(domain);
  if (i < 0) throw new Error(`scenario domain ${domain} is not in the lab's universe`);
  return `45.60.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

const titled = (status: number): http.RequestListener => (req, res) => {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (req.url === BULK_PATH) {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(Buffer.alloc(BULK_BYTES, 0x62));
    return;
  }
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', server: 'lab' });
  res.end(`<!doctype html><html><head><title>${host}</title></head><body>the real ${host}</body></html>`);
};

/** The servers every scenario shares: started once for the whole suite. */
export interface Lab {
  universe: string[];
  pki: LabPki;
  honestTls: Listener;
  honestHttp: Listener;
  /** Any other TCP service (e.g. XMPP on 5222, MTProto on 443 of a data centre): accepts and waits. */
  plainTcp: Listener;
  interceptors: Record<Exclude<TlsCensor, 'sni-reset' | 'stall' | 'eof'>, Listener>;
  staller: Listener;
  eof: Listener;
  reset: Listener;
  blackhole: { port: number; close(): Promise<void> };
  refused: number;
  blockpage: Listener;
  garbage: Listener;
  close(): Promise<void>;
}

export async function startLab(universe: string[]): Promise<Lab> {
  const pki = await makeLabPki(universe);
  const serve = (ck: CertKey, handler = titled(200)) => startTlsServer({ cert: ck.cert, key: ck.key, chain: ck.chain, onRequest: handler });
  const eofServer = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end());
  });
  const plain = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.resume();
  });
  const [honestTls, honestHttp, plainTcp, qaznet, selfSigned, wrongHost, expired, staller, eof, reset, blackhole, refused, blockpage, garbage] =
    await Promise.all([
      serve(pki.leaf),
      startHttpServer(titled(200)),
      listenLoopback(plain),
      serve(pki.qaznet.leaf),
      serve(pki.selfSigned),
      serve(pki.wrongHost),
      serve(pki.expired),
      startHelloStaller(),
      listenLoopback(eofServer),
      startResetListener(),
      startBlackhole(),
      refusedPort(),
      startBlockPageServer(),
      startGarbageServer(),
    ]);
  const all: Array<{ close(): Promise<void> }> = [honestTls, honestHttp, plainTcp, qaznet, selfSigned, wrongHost, expired, staller, eof, reset, blackhole, blockpage, garbage];
  return {
    universe,
    pki,
    honestTls,
    honestHttp,
    plainTcp,
    interceptors: { qaznet, 'self-signed': selfSigned, 'wrong-host': wrongHost, expired },
    staller,
    eof,
    reset,
    blackhole,
    refused,
    blockpage,
    garbage,
    async close() {
      await Promise.all(all.map((l) => l.close()));
    },
  };
}

export interface World {
  targets: Target[];
  deps: Deps;
  options: EngineOptions;
  close(): Promise<void>;
}

export interface WorldSettings {
  timeoutMs: number;
  listenWindowMs: number;
}

/** The probe's network for one scenario: resolvers, address map and per-case servers. */
export async function buildWorld(lab: Lab, c: ScenarioCase, settings: WorldSettings): Promise<World> {
  const censor: Censor = c.censor;
  const target = toTarget(c.target);
  const targets = [target, ...CANARIES];
  const ipOf = (d: string) => addressOf(d, lab.universe);
  const honest = (name: string, qtype: 'A' | 'AAAA'): DnsBehavior =>
    qtype === 'A' && lab.universe.includes(name) ? { kind: 'answer', addresses: [ipOf(name)], ttl: 300 } : { kind: 'nodata' };
  const dead: DnsBehavior = { kind: 'drop' };
  const real = (name: string, b: DnsBehavior | undefined): DnsBehavior | undefined => {
    const fill = (list: string[]) => list.map((a) => (a === REAL ? ipOf(name) : a));
    if (b?.kind === 'race') return { ...b, injected: fill(b.injected), real: fill(b.real) };
    if (b?.kind === 'answer') return { ...b, addresses: fill(b.addresses) };
    return b;
  };
  const pathZone: FakeZone = (name, qtype) => (censor.shutdown ? dead : (real(name, censor.pathDns?.[name]) ?? honest(name, qtype)));
  const ispZone: FakeZone = (name, qtype) => (censor.shutdown ? dead : (real(name, censor.ispDns?.[name]) ?? pathZone(name, qtype)));
  const dohZone: FakeZone = (name, qtype) => honest(name, qtype);
  const [ispDns, honestDns, doh] = await Promise.all([startFakeDns(ispZone), startFakeDns(pathZone), startFakeDoh(dohZone)]);
  const closers: Array<() => Promise<void>> = [() => ispDns.close(), () => honestDns.close(), () => doh.close()];

  const map: Record<string, number> = {};
  if (!censor.shutdown) {
    map[endpointKey('127.0.0.1', doh.port)] = censor.dohBlackholed ? lab.blackhole.port : doh.port;
    const tcpPort = (how: string | undefined): number | undefined =>
      how === 'reset' ? lab.reset.port : how === 'blackhole' ? lab.blackhole.port : how === 'refuse' ? lab.refused : undefined;

    for (const t of targets) {
      for (const domain of t.domains) {
        const ip = ipOf(domain);
        for (const port of t.ports) {
          const key = endpointKey(ip, port);
          const blocked = tcpPort(censor.tcp?.[domain]);
          if (blocked !== undefined) map[key] = blocked;
          else if (t.tls_ports.includes(port)) map[key] = await tlsPort(lab, censor, domain, closers);
          else if (port === 80) map[key] = await httpPort(lab, censor, domain, closers);
          else map[key] = lab.plainTcp.port;
        }
      }
      for (const e of t.endpoints) {
        for (const port of e.ports) map[endpointKey(e.ip, port)] = tcpPort(censor.tcp?.[e.ip]) ?? lab.plainTcp.port;
      }
    }
    // Addresses the ISP's resolver hands out that belong to no real domain: the ISP's block server.
    for (const behaviour of Object.values(censor.ispDns ?? {})) {
      if (behaviour.kind !== 'answer') continue;
      for (const ip of behaviour.addresses) {
        map[endpointKey(ip, 443)] ??= lab.interceptors['wrong-host'].port;
        map[endpointKey(ip, 80)] ??= lab.blockpage.port;
      }
    }
  }

  const loopback = loopbackNetwork(map, fakeSystemLookup(ispDns, { timeoutMs: settings.timeoutMs }), { unmapped: 'EHOSTUNREACH' });
  // The ISP's resolver is the one resolv.conf names: the probe asks it directly too.
  const network = { ...loopback, systemResolvers: () => Promise.resolve([{ address: ispDns.address, port: ispDns.port }]) };
  const resolvers: ResolverSpec[] = [{ kind: 'system' }, { kind: 'udp', address: honestDns.address, port: honestDns.port }];
  const probe = { id: 'scenario-probe', asn: null, cc: 'KZ', network: null, software: { name: 'ashyq-probe' as const, version: 'test' } };
  const options: EngineOptions = {
    ...engineOptionsFrom(defaultProbeConfig(), probe, loadTrust({ extraCa: [lab.pki.root], env: {} })),
    resolvers,
    controlDoh: doh.url,
    timeoutMs: settings.timeoutMs,
    listenWindowMs: settings.listenWindowMs,
    // A throttled read is stopped by its time bound: kept short on loopback.
    bulk: { enabled: true, maxBytes: 256 * 1024, maxMs: 1000 },
  };
  return {
    targets,
    deps: { network, clock: systemClock },
    options,
    async close() {
      await Promise.all(closers.map((c) => c()));
    },
  };
}

async function tlsPort(lab: Lab, censor: Censor, domain: string, closers: Array<() => Promise<void>>): Promise<number> {
  const how = censor.tls?.[domain];
  const status = censor.http?.[domain];
  const rate = censor.throttle?.[domain];
  const delay = censor.slowHandshake?.[domain];
  let upstream = lab.honestTls.port;
  if (status === 'blockpage' || typeof status === 'object') {
    const onRequest = status === 'blockpage' ? respond({ status: 200, body: blockPageHtml() }) : titled(status.status);
    const server = await startTlsServer({ cert: lab.pki.leaf.cert, key: lab.pki.leaf.key, chain: lab.pki.leaf.chain, onRequest });
    closers.push(() => server.close());
    upstream = server.port;
  } else if (rate !== undefined) {
    const page = titled(200);
    const slow = trickle(BULK_BYTES, rate);
    const onRequest: http.RequestListener = (req, res) => (req.url === BULK_PATH ? slow(req, res) : page(req, res));
    const server = await startTlsServer({ cert: lab.pki.leaf.cert, key: lab.pki.leaf.key, chain: lab.pki.leaf.chain, onRequest });
    closers.push(() => server.close());
    upstream = server.port;
  }
  if (delay !== undefined) {
    const delayer = await startHandshakeDelayer(upstream, delay);
    closers.push(() => delayer.close());
    upstream = delayer.port;
  }
  switch (how) {
    case undefined:
      return upstream;
    case 'sni-reset': {
      const resetter = await startSniResetter({ blockedSni: domain, upstream: { port: upstream } });
      closers.push(() => resetter.close());
      return resetter.port;
    }
    case 'stall':
      return lab.staller.port;
    case 'eof':
      return lab.eof.port;
    default:
      return lab.interceptors[how].port;
  }
}

async function httpPort(lab: Lab, censor: Censor, domain: string, closers: Array<() => Promise<void>>): Promise<number> {
  const plain = censor.plainHttp?.[domain];
  if (plain === 'blockpage') return lab.blockpage.port;
  if (plain === 'silent') return lab.plainTcp.port;
  if (plain === 'reset-request') {
    const resetter = await startRequestResetter();
    closers.push(() => resetter.close());
    return resetter.port;
  }
  const how = censor.http?.[domain];
  if (how === 'blockpage') return lab.blockpage.port;
  if (how === 'garbage') return lab.garbage.port;
  if (typeof how === 'object') {
    const server = await startHttpServer(titled(how.status));
    closers.push(() => server.close());
    return server.port;
  }
  return lab.honestHttp.port;
}
