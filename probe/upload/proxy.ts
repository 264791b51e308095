// Upload proxies: an HTTP(S) CONNECT tunnel or a SOCKS5 tunnel (no auth or username/password), opened over a given socket.
//
// The tunnel only carries bytes: TLS to the collector and the pin check run end to end through it,
// so the proxy sees the collector's host name and port and nothing else. The host NAME is handed to
// the proxy in both cases (SOCKS5 address type 3, like socks5h), so the probe makes no DNS query of
// its own for the collector when a proxy is set.
import { isIPv4, isIPv6 } from 'node:net';
import type { Duplex } from 'node:stream';
import { InvalidArgumentError } from '../../common/errors.js';

export interface ProxySpec {
  protocol: 'http' | 'https' | 'socks5';
  host: string;
  port: number;
  username: string | null;
  password: string | null;
}

const DEFAULT_PORT: Record<ProxySpec['protocol'], number> = { http: 8080, https: 443, socks5: 1080 };

/** `http://[user:pass@]host[:port]`, `https://…`, `socks5://…` (or `socks5h://…`, the same here). */
export function parseProxy(url: string): ProxySpec {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgumentError(`proxy: not a URL: ${JSON.stringify(url).slice(0, 80)}`);
  }
  const scheme = u.protocol.replace(/:$/, '');
  const protocol = scheme === 'socks5h' ? 'socks5' : scheme;
  if (protocol !== 'http' && protocol !== 'https' && protocol !== 'socks5') {
    throw new InvalidArgumentError(`proxy: expected http://, https:// or socks5://, got ${scheme}://`);
  }
  if ((u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '') {
    throw new InvalidArgumentError('proxy: expected scheme://[user:password@]host:port with nothing after the port');
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new InvalidArgumentError('proxy: the host is missing');
  return {
    protocol,
    host,
    port: u.port === '' ? DEFAULT_PORT[protocol] : Number(u.port),
    username: u.username === '' ? null : decodeURIComponent(u.username),
    password: u.username === '' ? null : decodeURIComponent(u.password),
  };
}

/** A proxy refused or broke the tunnel: a network failure of the upload, never a crash. */
export class ProxyError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ProxyError';
    this.code = code;
  }
}

export interface TunnelTarget {
  host: string;
  port: number;
}

/**
 * Reads exact byte counts (or up to a delimiter) from a stream during a proxy handshake; `release()`
 * detaches and pushes back whatever arrived beyond the handshake.
 */
class HandshakeReader {
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer) => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.wake();
  };
  private readonly onEnd = () => this.fail(new ProxyError('ECONNRESET', 'the proxy closed the connection during the tunnel handshake'));
  private readonly onError = (err: Error) => this.fail(err);
  private readonly onAbort = () => this.fail(this.signal.reason instanceof Error ? this.signal.reason : new ProxyError('ABORT_ERR', 'aborted'));

  constructor(
    private readonly stream: Duplex,
    private readonly signal: AbortSignal,
  ) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
    signal.addEventListener('abort', this.onAbort, { once: true });
    if (signal.aborted) this.onAbort();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async until(ready: () => boolean): Promise<void> {
    while (!ready()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  async read(n: number): Promise<Buffer> {
    await this.until(() => this.buffer.length >= n);
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }

  /** Bytes up to and including `delimiter`, at most `max` bytes. */
  async readUntil(delimiter: string, max: number): Promise<Buffer> {
    await this.until(() => this.buffer.includes(delimiter) || this.buffer.length > max);
    const at = this.buffer.indexOf(delimiter);
    if (at < 0) throw new ProxyError('ERR_PROXY_BAD_ANSWER', `the proxy's answer is longer than ${max} bytes`);
    const out = this.buffer.subarray(0, at + delimiter.length);
    this.buffer = this.buffer.subarray(at + delimiter.length);
    return out;
  }

  release(): void {
    this.stream.removeListener('data', this.onData);
    this.stream.removeListener('end', this.onEnd);
    this.stream.removeListener('close', this.onEnd);
    this.stream.removeListener('error', this.onError);
    this.signal.removeEventListener('abort', this.onAbort);
    this.stream.pause();
    if (this.buffer.length > 0) this.stream.unshift(this.buffer);
    this.buffer = Buffer.alloc(0);
  }
}

function authority(target: TunnelTarget): string {
  return isIPv6(target.host) ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/**
 * Ask an HTTP proxy (over `stream`, plain or TLS) for a CONNECT tunnel to `target`. Resolves with the
 * same stream once the proxy answered 2xx; rejects with a ProxyError otherwise.
 */
export async function httpConnect(stream: Duplex, target: TunnelTarget, proxy: ProxySpec, signal: AbortSignal): Promise<Duplex> {
  const reader = new HandshakeReader(stream, signal);
  try {
    const hostPort = authority(target);
    const lines = [`CONNECT ${hostPort} HTTP/1.1`, `Host: ${hostPort}`];
    if (proxy.username !== null) {
      const token = Buffer.from(`${proxy.username}:${proxy.password ?? ''}`, 'utf8').toString('base64');
      lines.push(`Proxy-Authorization: Basic ${token}`);
    }
    stream.write(`${lines.join('\r\n')}\r\n\r\n`);
    const head = (await reader.readUntil('\r\n\r\n', 16 * 1024)).toString('latin1');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!status) throw new ProxyError('ERR_PROXY_BAD_ANSWER', `not an HTTP answer from the proxy: ${JSON.stringify(head.slice(0, 60))}`);
    const code = Number(status[1]);
    if (code < 200 || code > 299) {
      const line = head.split('\r\n')[0] ?? '';
      throw new ProxyError(code === 407 ? 'ERR_PROXY_AUTH' : 'ERR_PROXY_REFUSED', `the proxy refused CONNECT ${hostPort}: ${line}`);
    }
    return stream;
  } finally {
    reader.release();
  }
}

const SOCKS_REPLIES: Record<number, [string, string]> = {
  1: ['ERR_PROXY_REFUSED', 'general SOCKS server failure'],
  2: ['ERR_PROXY_REFUSED', 'connection not allowed by ruleset'],
  3: ['ENETUNREACH', 'network unreachable'],
  4: ['EHOSTUNREACH', 'host unreachable'],
  5: ['ECONNREFUSED', 'connection refused'],
  6: ['ETIMEDOUT', 'TTL expired'],
  7: ['ERR_PROXY_REFUSED', 'command not supported'],
  8: ['ERR_PROXY_REFUSED', 'address type not supported'],
};

function socksAddress(host: string): Buffer {
  if (isIPv4(host)) return Buffer.from([0x01, ...host.split('.').map(Number)]);
  if (isIPv6(host)) {
    // Expand "::" and write the eight groups.
    const [head = '', tail = ''] = host.includes('::') ? host.split('::') : [host, ''];
    const h = head === '' ? [] : head.split(':');
    const t = tail === '' ? [] : tail.split(':');
    const groups = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
    const out = Buffer.alloc(17);
    out[0] = 0x04;
    groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 1 + 2 * i));
    return out;
  }
  const name = Buffer.from(host, 'utf8');
  if (name.length > 255) throw new InvalidArgumentError(`SOCKS5: host name longer than 255 bytes: ${host.slice(0, 60)}`);
  return Buffer.concat([Buffer.from([0x03, name.length]), name]);
}

/**
 * Open a SOCKS5 tunnel (RFC 1928) to `target` over `stream`: no authentication, or username/password
 * (RFC 1929) when the proxy URL carries credentials. The host name is sent to the proxy unresolved.
 */
export async function socks5Connect(stream: Duplex, target: TunnelTarget, proxy: ProxySpec, signal: AbortSignal): Promise<Duplex> {
  const reader = new HandshakeReader(stream, signal);
  try {
    const withPassword = proxy.username !== null;
    stream.write(Buffer.from(withPassword ? [0x05, 0x02, 0x00, 0x02] : [0x05, 0x01, 0x00]));
    const [version, method] = await reader.read(2);
    if (version !== 0x05) throw new ProxyError('ERR_PROXY_BAD_ANSWER', 'not a SOCKS5 proxy');
    if (method === 0x02 && withPassword) {
      const user = Buffer.from(proxy.username ?? '', 'utf8');
      const pass = Buffer.from(proxy.password ?? '', 'utf8');
      if (user.length > 255 || pass.length > 255) throw new InvalidArgumentError('SOCKS5: user name and password are at most 255 bytes each');
      stream.write(Buffer.concat([Buffer.from([0x01, user.length]), user, Buffer.from([pass.length]), pass]));
      const [, status] = await reader.read(2);
      if (status !== 0x00) throw new ProxyError('ERR_PROXY_AUTH', 'the SOCKS5 proxy refused the user name and password');
    } else if (method !== 0x00) {
      throw new ProxyError('ERR_PROXY_AUTH', withPassword ? 'the SOCKS5 proxy accepts neither password nor no authentication' : 'the SOCKS5 proxy requires authentication (put user:password in the proxy URL)');
    }
    const port = Buffer.alloc(2);
    port.writeUInt16BE(target.port);
    stream.write(Buffer.concat([Buffer.from([0x05, 0x01, 0x00]), socksAddress(target.host), port]));
    const [v, reply, , atyp] = await reader.read(4);
    if (v !== 0x05) throw new ProxyError('ERR_PROXY_BAD_ANSWER', 'malformed SOCKS5 reply');
    if (reply !== 0x00) {
      const [code, text] = SOCKS_REPLIES[reply ?? -1] ?? ['ERR_PROXY_REFUSED', `reply ${reply}`];
      throw new ProxyError(code, `the SOCKS5 proxy could not connect to ${authority(target)}: ${text}`);
    }
    // The bound address (ignored) and port.
    if (atyp === 0x01) await reader.read(4 + 2);
    else if (atyp === 0x04) await reader.read(16 + 2);
    else if (atyp === 0x03) {
      const [len] = await reader.read(1);
      await reader.read((len ?? 0) + 2);
    } else throw new ProxyError('ERR_PROXY_BAD_ANSWER', `unknown SOCKS5 address type ${atyp}`);
    return stream;
  } finally {
    reader.release();
  }
}
