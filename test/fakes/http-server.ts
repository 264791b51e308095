// Plain HTTP fakes on loopback: a server with a handler, a Kazakh-style block page, a peer that answers garbage.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { listenLoopback, type Listener } from './listener.js';

export interface SeenRequest {
  method: string;
  url: string;
  host: string | null;
}

export interface FakeHttpServer extends Listener {
  /** Every request received, in order. */
  requests: SeenRequest[];
}

/** A plain HTTP server on 127.0.0.1. */
export async function startHttpServer(handler: http.RequestListener): Promise<FakeHttpServer> {
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? null });
    handler(req, res);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  const listener = await listenLoopback(server);
  return { ...listener, requests };
}

/** The block page fixture (HTML, UTF-8). */
export function blockPageHtml(): string {
  return readFileSync(new URL('../fixtures/blockpages/kz-isp.html', import.meta.url), 'utf8');
}

/** The title of the block page fixture. */
export const BLOCK_PAGE_TITLE = 'Доступ к ресурсу ограничен';

/** Answers every request with HTTP 200 and the block page, as an ISP's filter does for a blocked URL. */
export function startBlockPageServer(): Promise<FakeHttpServer> {
  const page = blockPageHtml();
  return startHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', server: 'nginx', connection: 'close' });
    res.end(page);
  });
}

/** Answers anything it receives with `bytes` (not HTTP) and closes. */
export async function startGarbageServer(bytes = 'SSH-2.0-garbage \x00\x01\x02 not http\r\n\r\n'): Promise<Listener> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end(bytes));
  });
  return listenLoopback(server);
}
