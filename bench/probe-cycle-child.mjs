// The measured side of bench/probe-cycle: runs the built engine alone in its own process and reports its cost.
// Reads its lab (address map, resolver port, lab root, targets) as JSON on stdin; prints one JSON line.
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { runTargets } from '../dist/probe/engine/run.js';
import { engineOptionsFrom } from '../dist/probe/engine/options.js';
import { defaultProbeConfig } from '../dist/probe/config/probe-config.js';
import { loadTrust } from '../dist/probe/trust.js';
import { systemClock } from '../dist/probe/deps.js';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const lab = JSON.parse(Buffer.concat(chunks).toString('utf8'));

/** "Public" addresses mapped to loopback ports; anything else fails without a packet sent. */
const network = {
  dialTcp(ip, port, signal) {
    return new Promise((resolve, reject) => {
      const mapped = lab.map[`${ip}:${port}`];
      if (mapped === undefined) {
        reject(Object.assign(new Error(`connect EHOSTUNREACH ${ip}:${port} (not in the lab)`), { code: 'EHOSTUNREACH' }));
        return;
      }
      const socket = net.connect({ host: '127.0.0.1', port: mapped });
      const onAbort = () => {
        socket.destroy();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(err);
      });
    });
  },
  createUdpSocket: (type) => dgram.createSocket(type),
  // Stands in for getaddrinfo: a c-ares channel per lookup asking the lab's DNS server.
  async lookup(domain, family) {
    const resolver = new dns.promises.Resolver({ timeout: lab.timeoutMs, tries: 1 });
    resolver.setServers([`127.0.0.1:${lab.dnsPort}`]);
    return family === 4 ? resolver.resolve4(domain) : resolver.resolve6(domain);
  },
};

const config = defaultProbeConfig();
const probe = { id: 'bench', asn: null, cc: null, network: null, software: { name: 'ashyq-probe', version: 'bench' } };
const options = {
  ...engineOptionsFrom(config, probe, loadTrust({ extraCa: [lab.root], env: {} })),
  resolvers: [{ kind: 'system' }, { kind: 'udp', address: '127.0.0.1', port: lab.dnsPort }],
  controlDoh: null,
};

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const measurements = await runTargets(lab.targets, options, { network, clock: systemClock });
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const verdicts = {};
for (const m of measurements) verdicts[m.verdict.verdict] = (verdicts[m.verdict.verdict] ?? 0) + 1;
process.stdout.write(
  `${JSON.stringify({
    wallMs,
    timeoutMs: options.timeoutMs,
    concurrency: options.concurrency,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    cpuMs: (cpu.user + cpu.system) / 1000,
    verdicts,
  })}\n`,
);
