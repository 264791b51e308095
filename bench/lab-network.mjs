// The benchmarks' view of their loopback lab, shared by the probe children: the lab read from stdin, and
// a Network whose "public" addresses map to loopback ports (anything else fails without a packet sent).
import dgram from 'node:dgram';
import dns from 'node:dns';

/** The lab description the parent process writes as JSON on stdin. */
export async function readLab() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * dialTcp maps `map["ip:port"]` to 127.0.0.1; lookup stands in for getaddrinfo with one c-ares
 * channel asking the lab's DNS server on `dnsPort` (as the machine's resolver is one).
 */
export function labNetwork({ map, dnsPort, timeoutMs }, connectSocket) {
  const resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([`127.0.0.1:${dnsPort}`]);
  return {
    async dialTcp(ip, port, signal) {
      const mapped = map[`${ip}:${port}`];
      if (mapped === undefined) throw Object.assign(new Error(`connect EHOSTUNREACH ${ip}:${port} (not in the lab)`), { code: 'EHOSTUNREACH' });
      return connectSocket('127.0.0.1', mapped, signal);
    },
    createUdpSocket: (type) => dgram.createSocket(type),
    async lookup(domain, family, signal) {
      signal.throwIfAborted();
      return family === 4 ? resolver.resolve4(domain) : resolver.resolve6(domain);
    },
  };
}
