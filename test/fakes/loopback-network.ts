// A Network for tests: "public" addresses mapped to loopback listeners; anything unmapped is never dialled.
import dgram from 'node:dgram';
import net from 'node:net';
import { connectSocket, type Network } from '../../probe/deps.js';

export interface LoopbackNetworkOptions {
  /** The error an unmapped address fails with (no packet is sent): refused by default. */
  unmapped?: 'ECONNREFUSED' | 'EHOSTUNREACH';
}

export interface LoopbackNetwork extends Network {
  /** Every dialTcp call as "ip:port", mapped or not, in order. */
  dials: string[];
}

/** "ip:port" for IPv4, "[ip]:port" for IPv6. */
export function endpointKey(ip: string, port: number): string {
  return net.isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function unmappedError(code: 'ECONNREFUSED' | 'EHOSTUNREACH', key: string): Error {
  const text = code === 'ECONNREFUSED' ? 'connection refused' : 'host unreachable';
  const err = new Error(`connect ${code} ${key} (${text}: not mapped to loopback, not dialled)`);
  Object.assign(err, { code, syscall: 'connect' });
  return err;
}

function noLookup(domain: string): Promise<string[]> {
  const err = new Error(`getaddrinfo ENOTFOUND ${domain}`);
  Object.assign(err, { code: 'ENOTFOUND', hostname: domain });
  return Promise.reject(err);
}

/**
 * dialTcp("ip", port) connects to 127.0.0.1:map["ip:port"] with a real socket; an unmapped address
 * rejects at once. createUdpSocket is dgram.createSocket; lookup is the given one, or ENOTFOUND.
 */
export function loopbackNetwork(
  map: Record<string, number>,
  lookup?: Network['lookup'],
  options: LoopbackNetworkOptions = {},
): LoopbackNetwork {
  const dials: string[] = [];
  return {
    dials,
    dialTcp(ip, port, signal) {
      const key = endpointKey(ip, port);
      dials.push(key);
      return new Promise((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason);
          return;
        }
        const mapped = map[key];
        if (mapped === undefined) {
          reject(unmappedError(options.unmapped ?? 'ECONNREFUSED', key));
          return;
        }
        resolve(connectSocket('127.0.0.1', mapped, signal));
      });
    },
    createUdpSocket(type) {
      return dgram.createSocket(type);
    },
    lookup: lookup ?? noLookup,
  };
}
