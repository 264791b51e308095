// Benchmark: bytes one measuring run of the shipped target list sends and receives, against loopback fakes serving front pages of realistic size, where they go (page reads, handshakes, port 80), and what the default schedule makes of it in a month.
// Every domain resolves to an address of its own; port 443 serves a front page of --page-kb (300 by default: a
// real service's front page is hundreds of kB) with a certificate chain of the lab root, port 80 answers a 301
// to https:// as real sites do, the bulk resources are 1 MiB, the endpoints accept and wait. The bytes are
// counted by the engine's DataMeter (TCP payload including TLS, DNS datagrams with their headers).
// Usage: npx tsx bench/data-use.ts [--page-kb 300] [--runs 3]
import dgram from 'node:dgram';
import type http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.js';
import type { Target } from '../contract/target.js';
import { loadTargets, packagedTargetsPath } from '../contract/target-list.js';
import { defaultProbeConfig } from '../probe/config/probe-config.js';
import { connectSocket, type Network } from '../probe/deps.js';
import { DataMeter, meteredNetwork } from '../probe/engine/data-meter.js';
import { engineOptionsFrom } from '../probe/engine/options.js';
import { runTargets } from '../probe/engine/run.js';
import { loadTrust } from '../probe/trust.js';
import { startFakeDns, type FakeZone } from '../test/fakes/dns-server.js';
import { startHttpServer } from '../test/fakes/http-server.js';
import { makeLabPki } from '../test/fakes/pki.js';
import { startTlsServer } from '../test/fakes/tls-server.js';

const { values } = parseArgs({ options: { 'page-kb': { type: 'string', default: '300' }, runs: { type: 'string', default: '3' } } });
const pageKb = Number(values['page-kb']);
const runs = Number(values.runs);

const targets: Target[] = await loadTargets(packagedTargetsPath());
const domains = [...new Set(targets.flatMap((t) => t.domains))];
const ipOf = (i: number) => `45.62.${Math.floor(i / 250)}.${(i % 250) + 1}`;

// A front page: a title at the start, then markup up to the page size.
const filler = '<div class="feed-item"><a href="/x">item</a><p>text of a front page, scripts and markup</p></div>\n';
const PAGE = Buffer.from(`<!doctype html><html><head><title>front page</title></head><body>${filler.repeat(Math.ceil((pageKb * 1024) / filler.length))}</body></html>`).subarray(0, pageKb * 1024);
const BULK = Buffer.alloc(1024 * 1024, 0x62);
const bulkPaths = new Set(targets.flatMap((t) => (t.bulk === undefined ? [] : [new URL(t.bulk).pathname + new URL(t.bulk).search])));
const page: http.RequestListener = (req, res) => {
  const bulk = bulkPaths.has(req.url ?? '');
  res.writeHead(200, { 'content-type': bulk ? 'application/octet-stream' : 'text/html; charset=utf-8', 'content-length': String(bulk ? BULK.length : PAGE.length) });
  res.end(bulk ? BULK : PAGE);
};
const redirect: http.RequestListener = (req, res) => {
  res.writeHead(301, { location: `https://${req.headers.host ?? 'example.org'}${req.url ?? '/'}`, 'content-length': '0' });
  res.end();
};

const pki = await makeLabPki(domains);
const [tls, plain] = await Promise.all([startTlsServer({ cert: pki.leaf.cert, key: pki.leaf.key, chain: pki.leaf.chain, onRequest: page }), startHttpServer(redirect)]);
// Endpoints (messengers' own protocols): a listener that accepts and says nothing.
const quiet = net.createServer((s) => s.on('error', () => undefined));
await new Promise<void>((resolve) => quiet.listen(0, '127.0.0.1', resolve));
const quietPort = (quiet.address() as net.AddressInfo).port;

const map = new Map<string, number>();
domains.forEach((_, i) => {
  map.set(`${ipOf(i)}:443`, tls.port);
  map.set(`${ipOf(i)}:80`, plain.port);
});
for (const t of targets) for (const e of t.endpoints) for (const port of e.ports) map.set(`${e.ip}:${port}`, quietPort);
const zone: FakeZone = (name, qtype) => {
  const i = domains.indexOf(name);
  return i >= 0 && qtype === 'A' ? { kind: 'answer', addresses: [ipOf(i)] } : { kind: 'nodata' };
};
const dnsServer = await startFakeDns(zone, { recvBufferSize: 1 << 22 });
/** The TCP connections of the run being measured, with the bytes each moved. */
const connections: Array<{ kind: 'https' | 'http' | 'endpoint'; read: number; written: number }> = [];
const lab: Network = {
  async dialTcp(ip, port, signal) {
    const mapped = map.get(`${ip}:${port}`);
    if (mapped === undefined) throw Object.assign(new Error(`connect EHOSTUNREACH ${ip}:${port}`), { code: 'EHOSTUNREACH' });
    const socket = await connectSocket('127.0.0.1', mapped, signal);
    const kind = mapped === tls.port ? 'https' : mapped === plain.port ? 'http' : 'endpoint';
    socket.once('close', () => connections.push({ kind, read: socket.bytesRead, written: socket.bytesWritten }));
    return socket;
  },
  createUdpSocket: (type) => dgram.createSocket(type),
  async lookup(domain, family) {
    const i = domains.indexOf(domain);
    return family === 4 && i >= 0 ? [ipOf(i)] : [];
  },
};

const config = defaultProbeConfig();
const probe = { id: 'bench', asn: null, cc: null, network: null, software: { name: 'ashyq-probe' as const, version: 'bench' } };
const base = {
  ...engineOptionsFrom(config, probe, loadTrust({ extraCa: [pki.root], env: {} })),
  resolvers: [{ kind: 'system' as const }, { kind: 'udp' as const, address: '127.0.0.1', port: dnsServer.port }],
  controlDoh: null,
};

interface RunUse {
  bytes: number;
  verdicts: Record<string, number>;
  /** Port 443 connections that read a body (more than a handshake's bytes), and those that did not; port 80; in bytes. */
  reads: { count: number; bytes: number; each: number[] };
  handshakes: { count: number; bytes: number };
  plain: { count: number; bytes: number };
}

/** A connection on 443 that read more than this carried a response body (a handshake of the lab's certificates is under 2 kB). */
const BODY_BYTES = 8000;

async function measureRun(bulk: boolean): Promise<RunUse> {
  const meter = new DataMeter();
  connections.length = 0;
  const options = { ...base, bulk: { ...base.bulk, enabled: bulk && base.bulk.enabled } };
  const measurements = await runTargets(targets, options, { network: meteredNetwork(lab, meter), clock: systemClock });
  await new Promise((r) => setTimeout(r, 200)); // let the last sockets close
  const verdicts: Record<string, number> = {};
  for (const m of measurements) verdicts[m.verdict.verdict] = (verdicts[m.verdict.verdict] ?? 0) + 1;
  const sum = (list: typeof connections) => list.reduce((a, c) => a + c.read + c.written, 0);
  const reads = connections.filter((c) => c.kind === 'https' && c.read >= BODY_BYTES);
  const handshakes = connections.filter((c) => c.kind === 'https' && c.read < BODY_BYTES);
  const plainOnes = connections.filter((c) => c.kind === 'http');
  return {
    bytes: meter.bytes,
    verdicts,
    reads: { count: reads.length, bytes: sum(reads), each: reads.map((c) => c.read) },
    handshakes: { count: handshakes.length, bytes: sum(handshakes) },
    plain: { count: plainOnes.length, bytes: sum(plainOnes) },
  };
}

const withBulk: number[] = [];
const withoutBulk: number[] = [];
let verdicts: Record<string, number> = {};
let parts: RunUse | null = null;
for (let i = 0; i < runs; i++) {
  const a = await measureRun(true);
  withBulk.push(a.bytes);
  verdicts = a.verdicts;
  parts = await measureRun(false);
  withoutBulk.push(parts.bytes);
}
const mb = (b: number) => (b / 1e6).toFixed(2);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const interval = config.schedule.interval_minutes;
const runsPerMonth = (30 * 24 * 60) / interval;
const every = config.measure.bulk_every_runs;
const perRun = median(withoutBulk) + (median(withBulk) - median(withoutBulk)) / every;
console.log(`data use of one run: ${targets.length} shipped targets, ${domains.length} domains, front pages of ${pageKb} kB, page reads up to ${config.measure.page_max_kb} KiB`);
console.log(`  verdicts                  ${Object.entries(verdicts).map(([v, c]) => `${c} ${v}`).join(', ')}`);
console.log(`  run with bulk reads       ${withBulk.map(mb).join(', ')} MB`);
console.log(`  run without bulk reads    ${withoutBulk.map(mb).join(', ')} MB`);
if (parts !== null) {
  const kb = (b: number) => `${(b / 1000).toFixed(1)} kB`;
  const each = [...parts.reads.each].sort((a, b) => a - b);
  console.log(`  of a run without bulk     ${parts.reads.count} page reads on 443: ${mb(parts.reads.bytes)} MB (${kb(each[0] ?? 0)}–${kb(each.at(-1) ?? 0)} read from the socket each, whatever the bound: one read of the socket takes what has arrived)`);
  console.log(`                            ${parts.handshakes.count} connections on 443 without a body (handshakes): ${mb(parts.handshakes.bytes)} MB; ${parts.plain.count} on port 80: ${mb(parts.plain.bytes)} MB; DNS and the rest: ${mb(median(withoutBulk) - parts.reads.bytes - parts.handshakes.bytes - parts.plain.bytes)} MB`);
}
console.log(`  default schedule          every ${interval} min (${runsPerMonth} runs in 30 days), bulk reads every ${every} runs: ${mb(perRun)} MB per run on average`);
console.log(`  per month                 ${(perRun * runsPerMonth / 1e9).toFixed(2)} GB  (goal < 1 GB)`);
await Promise.all([tls.close(), plain.close(), dnsServer.close(), new Promise((r) => quiet.close(r))]);
process.exit(0);
