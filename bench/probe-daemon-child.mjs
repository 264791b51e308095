// The measured side of bench/probe-daemon: the built daemon (dist/) alone in its process, on a loopback network.
// Reads { configFile, intervalMinutes, map, dnsPort } as JSON on stdin; logs like the daemon on stderr; stops on SIGTERM.
// As bin/ashyq-probe.js does, before the daemon's modules load (static imports would load them first):
// the libuv pool size and the probe's V8 flags.
process.env.UV_THREADPOOL_SIZE ??= '32';
const { PROBE_V8_FLAGS, applyProbeV8Flags } = await import('../dist/probe/engine/v8-flags.js');
applyProbeV8Flags();
process.stderr.write(`bench: V8 flags ${PROBE_V8_FLAGS.join(' ')}\n`);
const { default: dgram } = await import('node:dgram');
const { default: dns } = await import('node:dns');
const { loadProbeConfig } = await import('../dist/probe/config/probe-config.js');
const { runDaemon } = await import('../dist/probe/daemon/daemon.js');
const { streamLog } = await import('../dist/probe/daemon/log.js');
const { connectSocket, systemClock } = await import('../dist/probe/deps.js');

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
      resolve(connectSocket('127.0.0.1', mapped, signal));
    });
  },
  createUdpSocket: (type) => dgram.createSocket(type),
  // Stands in for getaddrinfo: a c-ares query to the lab's DNS server.
  async lookup(domain, family) {
    const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
    resolver.setServers([`127.0.0.1:${lab.dnsPort}`]);
    return family === 4 ? resolver.resolve4(domain) : resolver.resolve6(domain);
  },
};

const config = await loadProbeConfig(lab.configFile);
config.schedule.interval_minutes = lab.intervalMinutes;
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
await runDaemon(config, { network, clock: systemClock, log: streamLog(process.stderr, { clock: systemClock }) }, controller.signal);
