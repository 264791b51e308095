// Throttling devices on loopback: a handler that trickles a bulk body at a set rate, and a relay that holds back a TLS server's first flight.
import type http from 'node:http';
import net from 'node:net';
import { listenLoopback, type Listener } from './listener.js';

/** How often a trickled body gets its next piece (ms). */
const TICK_MS = 50;

/**
 * A response body of `bytes` sent at about `bytesPerSecond` (a piece every 50 ms), as a shaper
 * lets a download through; the headers go at once. Stops when the client goes away.
 */
export function trickle(bytes: number, bytesPerSecond: number): http.RequestListener {
  const piece = Math.max(1, Math.round((bytesPerSecond * TICK_MS) / 1000));
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
    let sent = 0;
    const timer = setInterval(() => {
      const n = Math.min(piece, bytes - sent);
      sent += n;
      if (sent >= bytes) {
        clearInterval(timer);
        res.end(Buffer.alloc(n, 0x74));
      } else res.write(Buffer.alloc(n, 0x74));
    }, TICK_MS);
    res.on('close', () => clearInterval(timer));
  };
}

/**
 * A TCP relay to `upstream` on 127.0.0.1 that passes the client's bytes at once but holds
 * everything the server sends for `delayMs` after the client's first bytes: the ServerHello of a
 * TLS handshake arrives that much later (a handshake slowed on the path), the rest at full speed.
 */
export async function startHandshakeDelayer(upstream: number, delayMs: number): Promise<Listener> {
  const server = net.createServer((client) => {
    const origin = net.connect({ host: '127.0.0.1', port: upstream });
    const held: Buffer[] = [];
    let released = false;
    let timer: NodeJS.Timeout | undefined;
    const close = () => {
      clearTimeout(timer);
      client.destroy();
      origin.destroy();
    };
    client.on('error', close).on('close', close);
    origin.on('error', close).on('close', close);
    client.on('data', (chunk: Buffer) => {
      timer ??= setTimeout(() => {
        released = true;
        for (const b of held.splice(0)) client.write(b);
      }, delayMs);
      origin.write(chunk);
    });
    origin.on('data', (chunk: Buffer) => {
      if (released) client.write(chunk);
      else held.push(chunk);
    });
  });
  return listenLoopback(server);
}
