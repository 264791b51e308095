// TLS fakes on loopback: an HTTPS server with a chosen chain, an SNI filter that resets, a ClientHello staller.
import { EventEmitter, once } from 'node:events';
import type http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { listenLoopback, type Listener } from './listener.js';

/** A fixed answer for every request. */
export interface FixedResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export interface TlsServerOptions {
  cert: string;
  key: string;
  /** Intermediates sent after the leaf. */
  chain?: string[];
  /** A request handler or a fixed response; 200 "ok" by default. */
  onRequest?: http.RequestListener | FixedResponse;
  /** ALPN protocols the server accepts (a client offering none of them gets a fatal alert). */
  alpn?: string[];
}

export interface FakeTlsServer extends Listener {
  /** The SNI of every ClientHello that carried one, in order. */
  servernames: string[];
}

export function respond(fixed: FixedResponse): http.RequestListener {
  return (_req, res) => {
    res.writeHead(fixed.status, { 'content-type': 'text/html; charset=utf-8', ...fixed.headers });
    res.end(fixed.body);
  };
}

/** An HTTPS server on 127.0.0.1 presenting `cert` (+ `chain`). */
export async function startTlsServer(options: TlsServerOptions): Promise<FakeTlsServer> {
  const handler =
    typeof options.onRequest === 'function'
      ? options.onRequest
      : respond(options.onRequest ?? { status: 200, body: 'ok' });
  const servernames: string[] = [];
  const server = https.createServer(
    {
      // Called for every ClientHello that carries an SNI; the default context answers.
      SNICallback(servername, callback) {
        servernames.push(servername);
        callback(null, undefined);
      },
      key: options.key,
      cert: [options.cert, ...(options.chain ?? [])].join('\n'),
      ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
    },
    handler,
  );
  server.on('tlsClientError', () => undefined);
  const listener = await listenLoopback(server);
  return { ...listener, servernames };
}

export type HelloParse =
  | { state: 'incomplete' }
  | { state: 'invalid'; reason: string }
  | { state: 'hello'; sni: string | null };

const invalid = (reason: string): HelloParse => ({ state: 'invalid', reason });

/** The server_name of a complete ClientHello body (after the 4-byte handshake header). */
function helloSni(body: Buffer): HelloParse {
  let at = 0;
  const need = (n: number) => at + n <= body.length;
  if (!need(2 + 32 + 1)) return invalid('short ClientHello');
  at += 2 + 32; // client_version, random
  const session = body[at] ?? 0;
  at += 1 + session;
  if (!need(2)) return invalid('short ClientHello (cipher suites)');
  at += 2 + body.readUInt16BE(at);
  if (!need(1)) return invalid('short ClientHello (compression)');
  at += 1 + (body[at] ?? 0);
  if (at === body.length) return { state: 'hello', sni: null }; // no extensions
  if (!need(2)) return invalid('short ClientHello (extensions)');
  const end = at + 2 + body.readUInt16BE(at);
  at += 2;
  if (end > body.length) return invalid('extensions overrun the ClientHello');
  while (at + 4 <= end) {
    const type = body.readUInt16BE(at);
    const length = body.readUInt16BE(at + 2);
    at += 4;
    if (at + length > end) return invalid('extension overruns the list');
    if (type === 0) {
      // server_name: list length, then (name_type, length, name)*
      let p = at + 2;
      const listEnd = Math.min(at + length, p + body.readUInt16BE(at));
      while (p + 3 <= listEnd) {
        const nameType = body[p] ?? -1;
        const nameLength = body.readUInt16BE(p + 1);
        p += 3;
        if (p + nameLength > listEnd) return invalid('server_name overruns the extension');
        if (nameType === 0) return { state: 'hello', sni: body.toString('ascii', p, p + nameLength) };
        p += nameLength;
      }
      return invalid('server_name extension without a host name');
    }
    at += length;
  }
  return { state: 'hello', sni: null };
}

/**
 * Parse the SNI out of the first bytes a TLS client sends: handshake records (the ClientHello may
 * span several) → ClientHello → server_name extension. `incomplete` asks for more bytes.
 */
export function parseClientHelloSni(data: Buffer): HelloParse {
  const handshake: Buffer[] = [];
  let size = 0;
  let at = 0;
  for (;;) {
    if (data.length < at + 5) return { state: 'incomplete' };
    if (data[at] !== 22) return invalid('not a TLS handshake record');
    if (data[at + 1] !== 3) return invalid('not a TLS record version');
    const length = data.readUInt16BE(at + 3);
    if (data.length < at + 5 + length) return { state: 'incomplete' };
    handshake.push(data.subarray(at + 5, at + 5 + length));
    size += length;
    at += 5 + length;
    if (size >= 4) {
      const message = Buffer.concat(handshake, size);
      if (message[0] !== 1) return invalid('not a ClientHello');
      const bodyLength = message.readUIntBE(1, 3);
      if (size >= 4 + bodyLength) return helloSni(message.subarray(4, 4 + bodyLength));
    }
  }
}

/** Collect a connection's first bytes until the ClientHello parses (or cannot). */
function readHello(socket: net.Socket, onHello: (result: HelloParse, received: Buffer) => void): void {
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const result = parseClientHelloSni(received);
    if (result.state === 'incomplete') return;
    socket.removeListener('data', onData);
    onHello(result, received);
  };
  socket.on('data', onData);
}

export interface SniResetter extends Listener {
  /** The SNI of every ClientHello seen, in order. */
  hellos: (string | null)[];
  /** Connections reset so far. */
  resets(): number;
}

/**
 * An SNI filter in front of an upstream TLS server: reads the ClientHello, resets the connection
 * (a real RST) when the SNI is `blockedSni`, else relays the bytes both ways to the upstream.
 */
export async function startSniResetter(options: { blockedSni: string; upstream: { port: number } }): Promise<SniResetter> {
  const hellos: (string | null)[] = [];
  const relays = new Set<net.Socket>();
  let resets = 0;
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    readHello(client, (result, received) => {
      const sni = result.state === 'hello' ? result.sni : null;
      hellos.push(sni);
      if (sni === options.blockedSni) {
        resets += 1;
        client.resetAndDestroy();
        return;
      }
      client.pause();
      const upstream = net.connect({ host: '127.0.0.1', port: options.upstream.port });
      relays.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.once('close', () => {
        relays.delete(upstream);
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      upstream.write(received);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  });
  const listener = await listenLoopback(server, {
    onClose: () => {
      for (const relay of relays) relay.destroy();
    },
  });
  return { ...listener, hellos, resets: () => resets };
}

export interface HelloStaller extends Listener {
  /** The SNI of every ClientHello received, in order. */
  hellos: (string | null)[];
  /** Resolves once `count` ClientHellos have arrived in total. */
  waitForHellos(count: number): Promise<void>;
}

/** Accepts, reads the ClientHello and never answers. */
export async function startHelloStaller(): Promise<HelloStaller> {
  const hellos: (string | null)[] = [];
  const events = new EventEmitter();
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    readHello(socket, (result) => {
      hellos.push(result.state === 'hello' ? result.sni : null);
      events.emit('hello');
      socket.resume();
    });
  });
  const listener = await listenLoopback(server);
  return {
    ...listener,
    hellos,
    async waitForHellos(count) {
      while (hellos.length < count) await once(events, 'hello');
    },
  };
}
