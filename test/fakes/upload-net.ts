// Loopback servers for the upload tests: a CONNECT proxy (plain or TLS), a SOCKS5 proxy, a response-dropping forwarder, a TLS interceptor.
//
// The proxies never resolve or dial anything themselves: `route(host, port)` maps the requested
// destination to a loopback port (or null: refused), and every byte they relay is counted.
import net from 'node:net';
import tls from 'node:tls';
import type { CertKey } from './pki.js';

export interface Relay {
  port: number;
  /** Destinations requested, as "host:port" (what the proxy was told, e.g. the collector's name). */
  requests: string[];
  /** Bytes relayed client → destination and back, after the tunnel was set up. */
  bytesUp: number;
  bytesDown: number;
  close(): Promise<void>;
}

export type Route = (host: string, port: number) => number | null;

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** Pipe two sockets both ways, counting bytes into `relay`. */
function splice(client: net.Socket, upstream: net.Socket, relay: Relay, head: Buffer): void {
  if (head.length > 0) {
    relay.bytesUp += head.length;
    upstream.write(head);
  }
  client.on('data', (c: Buffer) => {
    relay.bytesUp += c.length;
    upstream.write(c);
  });
  upstream.on('data', (c: Buffer) => {
    relay.bytesDown += c.length;
    client.write(c);
  });
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('close', end);
  upstream.on('close', end);
  client.on('error', end);
  upstream.on('error', end);
}

function dialLoopback(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.removeListener('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

export interface ConnectProxyOptions {
  route: Route;
  /** Serve the proxy itself over TLS (an https:// proxy). */
  tls?: CertKey;
  /** Require Proxy-Authorization: Basic user:password. */
  auth?: { user: string; password: string };
}

/** An HTTP CONNECT proxy on 127.0.0.1. */
export async function startConnectProxy(o: ConnectProxyOptions): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const relay: Relay = { port: 0, requests: [], bytesUp: 0, bytesDown: 0, close: () => closeServer(server, sockets) };
  const onClient = (client: net.Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.removeListener('data', onData);
      client.pause();
      void tunnel(end);
    };
    const tunnel = async (end: number) => {
      const head = buffer.subarray(0, end).toString('latin1');
      const rest = buffer.subarray(end + 4);
      const m = /^CONNECT (\S+):(\d+) HTTP\/1\.1\r\n/.exec(head);
      if (!m) {
        client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
        return;
      }
      const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
      relay.requests.push(`${host}:${m[2]}`);
      if (o.auth) {
        const expected = `Basic ${Buffer.from(`${o.auth.user}:${o.auth.password}`).toString('base64')}`;
        const given = /\r\nProxy-Authorization: ([^\r]*)/i.exec(head)?.[1];
        if (given !== expected) {
          client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
          return;
        }
      }
      const to = o.route(host, Number(m[2]));
      if (to === null) {
        client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
        return;
      }
      let upstream: net.Socket;
      try {
        upstream = await dialLoopback(to);
      } catch {
        client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
        return;
      }
      sockets.add(upstream);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      splice(client, upstream, relay, rest);
      client.resume();
    };
    client.on('data', onData);
  };
  const server = o.tls
    ? tls.createServer({ cert: [o.tls.cert, ...o.tls.chain].join('\n'), key: o.tls.key }, onClient)
    : net.createServer(onClient);
  relay.port = await listen(server);
  return relay;
}

export interface SocksProxyOptions {
  route: Route;
  /** Require RFC 1929 username/password. */
  auth?: { user: string; password: string };
}

/** A SOCKS5 proxy on 127.0.0.1 (CONNECT only; IPv4, IPv6 and domain-name destinations). */
export async function startSocksProxy(o: SocksProxyOptions): Promise<Relay & { methodsOffered: number[][]; addressTypes: number[] }> {
  const sockets = new Set<net.Socket>();
  const relay = {
    port: 0,
    requests: [] as string[],
    bytesUp: 0,
    bytesDown: 0,
    methodsOffered: [] as number[][],
    addressTypes: [] as number[],
    close: () => closeServer(server, sockets),
  };
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let buffer = Buffer.alloc(0);
    let waiter: (() => void) | null = null;
    const onData = (c: Buffer) => {
      buffer = Buffer.concat([buffer, c]);
      waiter?.();
    };
    client.on('data', onData);
    const read = async (n: number): Promise<Buffer> => {
      while (buffer.length < n) {
        if (client.destroyed) throw new Error('closed');
        await new Promise<void>((resolve) => {
          waiter = resolve;
          client.once('close', resolve);
        });
        waiter = null;
      }
      const out = buffer.subarray(0, n);
      buffer = buffer.subarray(n);
      return out;
    };
    void (async () => {
      const [ver, n] = await read(2);
      if (ver !== 5) return client.destroy();
      const methods = [...(await read(n ?? 0))];
      relay.methodsOffered.push(methods);
      const want = o.auth ? 0x02 : 0x00;
      if (!methods.includes(want)) {
        client.end(Buffer.from([5, 0xff]));
        return;
      }
      client.write(Buffer.from([5, want]));
      if (o.auth) {
        const [, ulen] = await read(2);
        const user = (await read(ulen ?? 0)).toString();
        const [plen] = await read(1);
        const pass = (await read(plen ?? 0)).toString();
        const good = user === o.auth.user && pass === o.auth.password;
        client.write(Buffer.from([1, good ? 0 : 1]));
        if (!good) return client.end();
      }
      const [, cmd, , atyp] = await read(4);
      relay.addressTypes.push(atyp ?? -1);
      let host: string;
      if (atyp === 1) host = [...(await read(4))].join('.');
      else if (atyp === 3) host = (await read((await read(1))[0] ?? 0)).toString();
      else if (atyp === 4) host = (await read(16)).toString('hex').match(/.{4}/g)!.join(':');
      else return client.destroy();
      const port = (await read(2)).readUInt16BE(0);
      relay.requests.push(`${host}:${port}`);
      const reply = (code: number) => Buffer.from([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
      if (cmd !== 1) return client.end(reply(7));
      const to = o.route(host, port);
      if (to === null) return client.end(reply(5));
      let upstream: net.Socket;
      try {
        upstream = await dialLoopback(to);
      } catch {
        return client.end(reply(5));
      }
      sockets.add(upstream);
      client.removeListener('data', onData);
      client.write(reply(0));
      const rest = buffer;
      buffer = Buffer.alloc(0);
      splice(client, upstream, relay, rest);
    })().catch(() => client.destroy());
  });
  relay.port = await listen(server);
  return relay;
}

export interface DroppingForwarder extends Relay {
  /** Answers to POST /api/v1/measurements dropped so far (the connection was cut instead). */
  dropped: number;
}

/**
 * A plain-HTTP TCP forwarder to a loopback port that forwards each request in full but, for the first
 * `drop` answers to POST /api/v1/measurements, cuts the connection instead of passing the answer on:
 * the collector has stored the batch, the probe never hears so (a lost acknowledgement).
 */
export async function startDroppingForwarder(target: () => number, drop: number): Promise<DroppingForwarder> {
  const sockets = new Set<net.Socket>();
  const relay: DroppingForwarder = { port: 0, requests: [], bytesUp: 0, bytesDown: 0, dropped: 0, close: () => closeServer(server, sockets) };
  const server = net.createServer(async (client) => {
    sockets.add(client);
    client.pause();
    client.on('error', () => client.destroy());
    let upstream: net.Socket;
    try {
      upstream = await dialLoopback(target());
    } catch {
      client.destroy();
      return;
    }
    sockets.add(upstream);
    let lastRequest = '';
    client.on('data', (c: Buffer) => {
      relay.bytesUp += c.length;
      const line = /^(GET|POST) (\S+)/.exec(c.toString('latin1'));
      if (line) {
        lastRequest = `${line[1]} ${line[2]}`;
        relay.requests.push(lastRequest);
      }
      upstream.write(c);
    });
    upstream.on('data', (c: Buffer) => {
      if (lastRequest === 'POST /api/v1/measurements' && relay.dropped < drop && c.toString('latin1').startsWith('HTTP/1.1 ')) {
        relay.dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      relay.bytesDown += c.length;
      client.write(c);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    upstream.on('error', end);
    client.resume();
  });
  relay.port = await listen(server);
  return relay;
}

export interface Interceptor {
  port: number;
  /** TCP connections accepted. */
  connections: number;
  /** TLS handshakes completed with a client. */
  handshakes: number;
  /** Plaintext application bytes received from clients (an upload would show up here). */
  plaintextBytes: number;
  close(): Promise<void>;
}

/** A TLS server presenting `cert` (e.g. a national interception certificate) that reads whatever the client sends. */
export async function startInterceptor(cert: CertKey): Promise<Interceptor> {
  const sockets = new Set<net.Socket>();
  const state: Interceptor = { port: 0, connections: 0, handshakes: 0, plaintextBytes: 0, close: () => closeServer(server, sockets) };
  const server = tls.createServer({ cert: [cert.cert, ...cert.chain].join('\n'), key: cert.key }, (socket) => {
    sockets.add(socket);
    state.handshakes++;
    socket.on('data', (c: Buffer) => {
      state.plaintextBytes += c.length;
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connection', () => state.connections++);
  server.on('tlsClientError', () => undefined);
  state.port = await listen(server);
  return state;
}
