// The TCP measurement: connect to one address and port, time it, close politely and watch for a reset.
//
// After the connection is established the probe sends its FIN and waits (at most `lingerMs`) for the
// peer's close. A middlebox that completes the handshake and then tears the connection down with a
// RST shows up in that window as `connection_reset` (operation `connect`, rtt_ms kept); a peer that
// closes normally, or does not close in time, leaves the observation a success.
import type net from 'node:net';
import type { Deps, Network } from '../deps.js';
import type { TcpObservation } from '../../contract/evidence.js';
import { classifyError, rawError } from './failure.js';
import { checkTimeout, startDeadline, type Deadline } from './deadline.js';

export interface TcpEndpoint {
  ip: string;
  port: number;
  /** The domain the address came from, or null for a fixed endpoint. */
  domain: string | null;
}

export interface TcpOptions {
  /** Connect timeout in ms. */
  timeoutMs: number;
  /** How long to wait for the peer's close after ours; default min(timeoutMs, 1000). */
  lingerMs?: number;
  /** Aborting rejects with `signal.reason` after the socket is destroyed. */
  signal?: AbortSignal;
}

/**
 * Dial through the injected network, bounded by `deadline`. Rejects with the network's error, or with
 * the deadline's reason when it fires first (a socket that connects late is destroyed).
 */
export function dialWithin(network: Network, ip: string, port: number, deadline: Deadline): Promise<net.Socket> {
  const { signal } = deadline;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const dialing = network.dialTcp(ip, port, signal);
    const onAbort = () => {
      reject(signal.reason);
      dialing.then(
        (late) => late.destroy(),
        () => undefined,
      );
    };
    signal.addEventListener('abort', onAbort, { once: true });
    dialing.then(
      (socket) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) {
          socket.destroy();
          reject(signal.reason);
        } else resolve(socket);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(signal.aborted ? signal.reason : err);
      },
    );
  });
}

/** End our side, drain anything the peer sends, resolve with the error seen before the socket closed. */
function closeAndWatch(socket: net.Socket, signal: AbortSignal): Promise<Error | null> {
  return new Promise((resolve) => {
    let seen: Error | null = null;
    const onError = (err: Error) => {
      seen ??= err;
    };
    const onAbort = () => socket.destroy();
    socket.on('error', onError);
    socket.once('close', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeListener('error', onError);
      resolve(seen);
    });
    if (signal.aborted) {
      socket.destroy();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.resume();
    socket.end();
  });
}

export async function measureTcp(endpoint: TcpEndpoint, options: TcpOptions, deps: Deps): Promise<TcpObservation> {
  const { ip, port, domain } = endpoint;
  checkTimeout(options.timeoutMs);
  const lingerMs = options.lingerMs ?? Math.min(options.timeoutMs, 1000);
  checkTimeout(lingerMs);
  options.signal?.throwIfAborted();
  const base = { domain, ip, port };

  const connect = startDeadline('connect', options.timeoutMs, options.signal);
  const started = deps.clock.monotonic();
  let socket: net.Socket;
  try {
    socket = await dialWithin(deps.network, ip, port, connect);
  } catch (err) {
    connect.dispose();
    if (connect.cancelled()) throw options.signal?.reason;
    return { ...base, rtt_ms: null, failure: classifyError('connect', err), operation: 'connect', error: rawError(err) };
  }
  const rtt = deps.clock.monotonic() - started;
  connect.dispose();

  const linger = startDeadline('close', lingerMs, options.signal);
  const seen = await closeAndWatch(socket, linger.signal);
  linger.dispose();
  if (linger.cancelled()) throw options.signal?.reason;
  if (seen && classifyError('connect', seen) === 'connection_reset') {
    return { ...base, rtt_ms: rtt, failure: 'connection_reset', operation: 'connect', error: rawError(seen) };
  }
  return { ...base, rtt_ms: rtt, failure: null, operation: null, error: null };
}
