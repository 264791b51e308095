// TCP-level censors on loopback: a listener that resets, a refused port, a blackhole whose connects time out, a silent peer.
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { listenLoopback, type Listener } from './listener.js';

export interface ResetListener extends Listener {
  /** Connections reset so far. */
  resets(): number;
}

/** Accepts every connection and immediately resets it (SO_LINGER 0 close: a real RST). */
export async function startResetListener(): Promise<ResetListener> {
  let resets = 0;
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    resets += 1;
    socket.resetAndDestroy();
  });
  const listener = await listenLoopback(server);
  return { ...listener, resets: () => resets };
}

/**
 * Accepts every connection and resets it when the first data (the request) arrives, as a keyword
 * filter does after seeing the Host header: the connect succeeds, the request gets a real RST.
 */
export async function startRequestResetter(): Promise<ResetListener> {
  let resets = 0;
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      resets += 1;
      socket.resetAndDestroy();
    });
  });
  const listener = await listenLoopback(server);
  return { ...listener, resets: () => resets };
}

/** A port on 127.0.0.1 nobody listens on (bound, read, released): connecting is refused by the kernel. */
export async function refusedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('not a TCP listener');
  return address.port;
}

/** Accepts, reads and discards everything, never answers. */
export async function startSilentListener(): Promise<Listener> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.resume();
  });
  return listenLoopback(server);
}

export interface Blackhole {
  port: number;
  close(): Promise<void>;
}

// The listening socket lives in a worker whose event loop is kept blocked, so nothing is ever
// accepted; once the kernel's accept queue is full, Linux drops further SYNs and connect() times out.
const BLACKHOLE_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const net = require('node:net');
const stop = new Int32Array(workerData);
const server = net.createServer();
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  while (Atomics.load(stop, 0) === 0) Atomics.wait(stop, 0, 0, 1000);
  server.close();
});
`;

function tryConnect(port: number, waitMs: number): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, waitMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

/**
 * A loopback port where TCP connects time out for real: a listener that never accepts, with its
 * accept queue filled first. Verified on start: the first connect that does not complete within
 * `verifyMs` proves the SYNs are dropped (throws if the kernel keeps accepting).
 */
export async function startBlackhole(verifyMs = 250): Promise<Blackhole> {
  const stop = new SharedArrayBuffer(4);
  const flag = new Int32Array(stop);
  const worker = new Worker(BLACKHOLE_WORKER, { eval: true, workerData: stop });
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (value: number) => resolve(value));
    worker.once('error', reject);
  });
  const fillers: net.Socket[] = [];
  const close = async () => {
    for (const socket of fillers) socket.destroy();
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    await exited;
  };
  for (let attempt = 0; attempt < 16; attempt++) {
    const socket = await tryConnect(port, verifyMs);
    if (socket === null) return { port, close };
    fillers.push(socket);
  }
  await close();
  throw new Error('blackhole: the kernel kept accepting connections on a full accept queue');
}
