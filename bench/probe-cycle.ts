// Benchmark: one measuring run over N targets against loopback fakes, a share blackholed and a share reset.
// As in the shipped list, every target is measured on 80 (http://) and 443 (https://), and the international
// canary and two clean targets have a bulk resource read for throughput (bounded by bulk_max_kb and bulk_max_ms).
// Prints wall time, peak RSS and CPU time of the probe process (the fakes run in this process, apart).
// The probe process applies the probe's own V8 settings, as bin/ashyq-probe.cjs does (--no-v8-flags: V8's defaults),
// and loads the engine alone (--cli: also the command line's modules, which bin/ashyq-probe.cjs loads).
// Usage: npm run build && npx tsx bench/probe-cycle.ts [--targets 200] [--blackholed 0.5] [--reset 0.25] [--no-v8-flags] [--cli]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_PROBE_CONFIG } from '../probe/config/probe-config.js';
import type { Target } from '../contract/target.js';
import { startFakeDns, type FakeZone } from '../test/fakes/dns-server.js';
import { makeLabPki } from '../test/fakes/pki.js';
import { startBlackhole, startResetListener } from '../test/fakes/tcp-censor.js';
import { startTlsServer } from '../test/fakes/tls-server.js';
import { startHttpServer } from '../test/fakes/http-server.js';
import type http from 'node:http';

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '200' },
    blackholed: { type: 'string', default: '0.5' },
    reset: { type: 'string', default: '0.25' },
    'no-v8-flags': { type: 'boolean', default: false },
    cli: { type: 'boolean', default: false },
  },
});
const n = Number(values.targets);
const blackholed = Math.round(n * Number(values.blackholed));
const reset = Math.round(n * Number(values.reset));

const child = fileURLToPath(new URL('./probe-cycle-child.mjs', import.meta.url));
if (!existsSync(fileURLToPath(new URL('../dist/probe/engine/run.js', import.meta.url)))) {
  console.error('bench/probe-cycle: build first (npm run build): it measures the built probe, as volunteers run it');
  process.exit(2);
}

const domainOf = (i: number) => `t${String(i).padStart(3, '0')}.bench.test`;
const ipOf = (i: number) => `45.61.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const canaryDomains = ['egov.kz', 'www.wikipedia.org'];
const domains = [...Array.from({ length: n }, (_, i) => domainOf(i)), ...canaryDomains];

/** The bulk resource's path and size: larger than the probe reads (its size bound ends the read). */
const BULK_PATH = '/static/bulk.bin';
const BULK = Buffer.alloc(1024 * 1024, 0x62);
const page: http.RequestListener = (req, res) => {
  res.writeHead(200, { 'content-type': req.url === BULK_PATH ? 'application/octet-stream' : 'text/html' });
  res.end(req.url === BULK_PATH ? BULK : '<title>ok</title>');
};

const pki = await makeLabPki(domains);
const [honest, honestHttp, hole, resetter] = await Promise.all([
  startTlsServer({ cert: pki.leaf.cert, key: pki.leaf.key, chain: pki.leaf.chain, onRequest: page }),
  startHttpServer(page),
  startBlackhole(),
  startResetListener(),
]);
const zone: FakeZone = (name, qtype) => {
  const i = domains.indexOf(name);
  return i >= 0 && qtype === 'A' ? { kind: 'answer', addresses: [ipOf(i)] } : { kind: 'nodata' };
};
// Two resolvers, as on a volunteer's machine: the one the system resolver asks (the ISP's) and a public
// one the probe asks over UDP. The probe starts up to `concurrency` domains at once, each asking both
// for A and AAAA: a burst of hundreds of datagrams that overflows a default-sized socket buffer, so the
// lab's servers get a larger one (lost queries would time out and measure the lab, not the probe).
const recvBufferSize = 4 * 1024 * 1024;
const [systemDns, publicDns] = await Promise.all([startFakeDns(zone, { recvBufferSize }), startFakeDns(zone, { recvBufferSize })]);

const map: Record<string, number> = {};
// Bulk resources: the international canary's and two clean targets' (the shipped list has two in all).
const withBulk = new Set([n + 1, n - 1, n - 2].filter((i) => i >= blackholed + reset));
const targets: Target[] = domains.map((domain, i) => {
  const censor = i < blackholed ? hole.port : i < blackholed + reset ? resetter.port : undefined;
  map[`${ipOf(i)}:443`] = censor ?? honest.port;
  map[`${ipOf(i)}:80`] = censor ?? honestHttp.port;
  const isCanary = i >= n;
  return {
    id: isCanary ? `canary-${i - n}` : `bench-${i}`,
    name: domain,
    category: isCanary ? 'canary' : 'social',
    ...(isCanary ? { canary: i === n ? 'domestic' : 'international' } : {}),
    domains: [domain],
    endpoints: [],
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200] },
    ...(withBulk.has(i) ? { bulk: `https://${domain}${BULK_PATH}` } : {}),
  } as Target;
});

const lab = {
  map,
  systemDnsPort: systemDns.port,
  publicDnsPort: publicDns.port,
  root: pki.root,
  targets,
  timeoutMs: DEFAULT_PROBE_CONFIG.measure.timeout_ms,
};
const childArgs = [...(values['no-v8-flags'] ? ['--no-v8-flags'] : []), ...(values.cli ? ['--cli'] : [])];
const proc = spawn(process.execPath, [child, ...childArgs], { stdio: ['pipe', 'pipe', 'inherit'] });
proc.stdin.end(JSON.stringify(lab));
let out = '';
proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
if (code !== 0) {
  console.error(`bench/probe-cycle: the probe process exited with ${code}`);
  process.exit(1);
}
const r = JSON.parse(out) as {
  wallMs: number;
  timeoutMs: number;
  concurrency: number;
  v8Flags: string[];
  withCli: boolean;
  maxRssMb: number;
  cpuMs: number;
  verdicts: Record<string, number>;
};

console.log(`probe-cycle: ${n} targets (+2 canaries), ${blackholed} blackholed, ${reset} reset, ${n - blackholed - reset} clean; ports 80 and 443; ${withBulk.size} bulk reads`);
console.log(`  step timeout      ${r.timeoutMs} ms, concurrency ${r.concurrency}`);
console.log(`  V8 flags          ${r.v8Flags.length > 0 ? `${r.v8Flags.join(' ')} (as bin/ashyq-probe.cjs)` : "none (V8's defaults)"}`);
console.log(`  modules loaded    ${r.withCli ? 'engine and command line (as bin/ashyq-probe.cjs)' : 'engine only (--cli adds the command line)'}`);
console.log(`  wall time         ${(r.wallMs / 1000).toFixed(2)} s  (${(r.wallMs / r.timeoutMs).toFixed(2)} × step timeout; goal ≤ 1.5)`);
console.log(`  peak RSS          ${r.maxRssMb.toFixed(1)} MB  (goal ≤ 80)`);
console.log(`  CPU time          ${(r.cpuMs / 1000).toFixed(2)} s`);
console.log(`  verdicts          ${Object.entries(r.verdicts).map(([v, c]) => `${c} ${v}`).join(', ')}`);
// Every domain is asked for A and AAAA of each lab resolver; fewer queries received means datagrams
// were lost on loopback, and the run's timeouts then measure the lab rather than the probe.
const lost = 4 * domains.length - systemDns.queries.length - publicDns.queries.length;
if (lost > 0) console.log(`  warning           the lab's DNS servers lost ${lost} queries: timing is not representative`);
// The fakes hold workers and sockets; the run is over, so leave at once.
process.exit(0);
