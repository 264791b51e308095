// Resolver strings of the probe config (system | udp:IP:PORT | udp:[IPv6]:PORT | doh:https://...) and their parsed form.
import net from 'node:net';
import { InvalidArgumentError } from '../../common/errors.js';
import type { ResolverSpec } from '../measure/dns.js';

/** How DNS questions are asked (defined by the DNS measurement): system, UDP by address, or DoH. */
export type { ResolverSpec };

export const RESOLVER_FORMS = 'system, udp:IPv4[:PORT], udp:[IPv6][:PORT] or doh:https://HOST/PATH';

/** Parses one resolver string; throws InvalidArgumentError naming what is wrong with it. */
export function parseResolver(text: string): ResolverSpec {
  if (text === 'system') return { kind: 'system' };
  if (text.startsWith('udp:')) return parseUdp(text.slice(4), text);
  if (text.startsWith('doh:')) return { kind: 'doh', url: checkDohUrl(text.slice(4)) };
  throw new InvalidArgumentError(`unknown resolver ${JSON.stringify(text)} (expected ${RESOLVER_FORMS})`);
}

/**
 * An https URL usable for DNS over HTTPS (RFC 8484): returned unchanged when valid, otherwise
 * InvalidArgumentError.
 */
export function checkDohUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(`DoH resolver ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'https:') throw new InvalidArgumentError(`DoH resolver ${JSON.stringify(url)} must use https://`);
  if (parsed.username !== '' || parsed.password !== '') {
    throw new InvalidArgumentError(`DoH resolver ${JSON.stringify(url)} must not carry credentials`);
  }
  if (parsed.hash !== '') throw new InvalidArgumentError(`DoH resolver ${JSON.stringify(url)} must not have a #fragment`);
  return url;
}

function parseUdp(rest: string, whole: string): ResolverSpec {
  const quoted = JSON.stringify(whole);
  let address: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
  if (bracketed) {
    address = bracketed[1] ?? '';
    portText = bracketed[2];
    if (!net.isIPv6(address) || address.includes('%')) {
      throw new InvalidArgumentError(`resolver ${quoted}: ${JSON.stringify(address)} is not an IPv6 address`);
    }
  } else if (rest.startsWith('[')) {
    throw new InvalidArgumentError(`resolver ${quoted}: expected udp:[IPv6]:PORT, e.g. udp:[2001:4860:4860::8888]:53`);
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) {
      throw new InvalidArgumentError(`resolver ${quoted}: write IPv6 addresses in brackets, e.g. udp:[2001:4860:4860::8888]:53`);
    }
    address = parts[0] ?? '';
    portText = parts[1];
    if (!net.isIPv4(address)) {
      throw new InvalidArgumentError(
        `resolver ${quoted}: ${JSON.stringify(address)} is not an IP address (UDP resolvers are given by address, e.g. udp:1.1.1.1:53)`,
      );
    }
  }
  let port = 53;
  if (portText !== undefined) {
    port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) {
      throw new InvalidArgumentError(`resolver ${quoted}: port ${JSON.stringify(portText)} is not an integer 1..65535`);
    }
  }
  return { kind: 'udp', address, port };
}
