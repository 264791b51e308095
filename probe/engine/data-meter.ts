// Counting the bytes a run sends and receives: a Network that meters the TCP connections and DNS datagrams it opens.
import type dgram from 'node:dgram';
import type net from 'node:net';
import type { Network } from '../deps.js';

/** IPv4 and UDP headers, counted with each datagram (what a metered line bills). */
const UDP_OVERHEAD = 28;
/**
 * A getaddrinfo lookup goes to the system's resolver out of sight of the probe: counted as one
 * query and one answer of a typical size.
 */
const LOOKUP_ESTIMATE = 2 * (UDP_OVERHEAD + 80);

/** Bytes over the network so far: of closed sockets, plus what the open ones have moved. */
export class DataMeter {
  private settled = 0;
  private readonly open = new Set<net.Socket>();

  /** Bytes sent and received through the metered network so far. */
  get bytes(): number {
    let live = 0;
    for (const s of this.open) live += s.bytesRead + s.bytesWritten;
    return this.settled + live;
  }

  add(bytes: number): void {
    this.settled += bytes;
  }

  /** Count a TCP connection's bytes (TLS included: the raw socket's) while it is open and once it closed. */
  track(socket: net.Socket): void {
    this.open.add(socket);
    socket.once('close', () => {
      this.open.delete(socket);
      this.settled += socket.bytesRead + socket.bytesWritten;
    });
  }
}

/** `inner`, with every connection, datagram and lookup it makes counted in `meter`. */
export function meteredNetwork(inner: Network, meter: DataMeter): Network {
  const metered: Network = {
    async dialTcp(ip, port, signal) {
      const socket = await inner.dialTcp(ip, port, signal);
      meter.track(socket);
      return socket;
    },
    createUdpSocket(type) {
      const socket = inner.createUdpSocket(type);
      socket.on('message', (msg: Buffer) => meter.add(msg.length + UDP_OVERHEAD));
      // An unbound socket binds first and then calls send() again itself with the same buffers in a
      // list: each buffer is counted once.
      const counted = new WeakSet<object>();
      const count = (part: unknown): void => {
        if (typeof part === 'string') meter.add(Buffer.byteLength(part) + UDP_OVERHEAD);
        else if (part instanceof Uint8Array && !counted.has(part)) {
          counted.add(part);
          meter.add(part.byteLength + UDP_OVERHEAD);
        }
      };
      const send = socket.send.bind(socket) as (msg: unknown, ...rest: unknown[]) => void;
      (socket as { send: unknown }).send = (msg: unknown, ...rest: unknown[]): void => {
        if (Array.isArray(msg)) {
          // One datagram of several parts: one header.
          const fresh = msg.filter((p): p is Uint8Array => p instanceof Uint8Array && !counted.has(p));
          if (fresh.length > 0) meter.add(fresh.reduce((n, p) => n + p.byteLength, 0) + UDP_OVERHEAD);
          for (const p of fresh) counted.add(p);
        } else count(msg);
        send(msg, ...rest);
      };
      return socket as dgram.Socket;
    },
    async lookup(domain, family, signal) {
      meter.add(LOOKUP_ESTIMATE);
      return inner.lookup(domain, family, signal);
    },
  };
  if (inner.systemResolvers !== undefined) metered.systemResolvers = inner.systemResolvers.bind(inner);
  return metered;
}
