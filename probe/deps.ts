// The injected network and clock: every measure/ function reaches the world only through these.
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { systemClock, type Clock } from '../common/clock.js';
import { readResolvConf, type NameServer } from './measure/resolv-conf.js';

export interface Network {
  /**
   * Open a TCP connection to ip:port. Resolves once connected; rejects with the underlying
   * network error (ECONNREFUSED, ECONNRESET, ...) or an abort when `signal` fires.
   */
  dialTcp(ip: string, port: number, signal: AbortSignal): Promise<net.Socket>;
  /** A UDP socket for a DNS query to `server` (the network may redirect it). */
  createUdpSocket(type: 'udp4' | 'udp6'): dgram.Socket;
  /** The system resolver (getaddrinfo): addresses of one family, or rejects with the resolver's error. */
  lookup(domain: string, family: 4 | 6, signal: AbortSignal): Promise<string[]>;
  /**
   * The resolvers getaddrinfo uses (resolv.conf's nameservers), asked directly beside it so that a
   * silent resolver is told from one answering SERVFAIL or REFUSED. Absent: none are asked.
   */
  systemResolvers?(): Promise<NameServer[]>;
}

export interface Deps {
  network: Network;
  clock: Clock;
}

/**
 * A real TCP connection to host:port: resolves once connected; rejects with the socket's error, or
 * with `signal.reason` (after destroying the socket) when the signal fires first.
 */
export function connectSocket(host: string, port: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const socket = net.connect({ host, port, noDelay: true });
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
}

/** The real network of the machine. */
export function systemNetwork(): Network {
  return {
    dialTcp: connectSocket,
    createUdpSocket(type) {
      return dgram.createSocket(type);
    },
    async lookup(domain, family, signal) {
      if (signal.aborted) throw signal.reason;
      const result = await Promise.race([
        dns.promises.lookup(domain, { family, all: true, verbatim: true }),
        new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
      ]);
      return result.map((r) => r.address);
    },
    systemResolvers: () => readResolvConf(),
  };
}

export function systemDeps(): Deps {
  return { network: systemNetwork(), clock: systemClock };
}
