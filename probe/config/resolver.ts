// Resolver strings of the probe config (system | udp:IP:PORT | udp:[IPv6]:PORT | doh:https://...) and their parsed form.
import net from 'node:net';
import { InvalidArgumentError } from '../../common/errors.js';
import { ownResolverLabel } from '../../contract/evidence.js';
import type { ResolverSpec } from '../measure/dns.js';

/** How DNS questions are asked (defined by the DNS measurement): system, UDP by address, or DoH. */
export type { ResolverSpec };

export const RESOLVER_FORMS = 'system, udp:IPv4[:PORT], udp:[IPv6][:PORT] or doh:https://HOST/PATH';

/**
 * Public resolvers' addresses, archived as they are: anyone may ask them, so naming one says nothing
 * about a volunteer. Any other configured address is named by its place (ownResolverLabel).
 */
export const PUBLIC_RESOLVERS: ReadonlySet<string> = new Set([
  // Google, Cloudflare, Quad9, OpenDNS, Yandex, AdGuard, CleanBrowsing, Comodo, Level3/Verisign
  '8.8.8.8', '8.8.4.4', '1.1.1.1', '1.0.0.1', '9.9.9.9', '149.112.112.112', '208.67.222.222', '208.67.220.220',
  '77.88.8.8', '77.88.8.1', '94.140.14.14', '94.140.15.15', '185.228.168.9', '185.228.169.9', '8.26.56.26', '8.20.247.20', '64.6.64.6', '64.6.65.6',
  '2001:4860:4860::8888', '2001:4860:4860::8844', '2606:4700:4700::1111', '2606:4700:4700::1001', '2620:fe::fe', '2620:fe::9',
  '2620:119:35::35', '2620:119:53::53', '2a02:6b8::feed:ff', '2a02:6b8:0:1::feed:ff', '2a10:50c0::ad1:ff', '2a10:50c0::ad2:ff',
]);

/** Whether `address` is one of PUBLIC_RESOLVERS (IPv6 compared in its canonical form). */
export function isPublicResolver(address: string): boolean {
  if (PUBLIC_RESOLVERS.has(address)) return true;
  if (!net.isIPv6(address)) return false;
  const canonical = new net.SocketAddress({ address, family: 'ipv6' }).address;
  for (const known of PUBLIC_RESOLVERS) if (net.isIPv6(known) && new net.SocketAddress({ address: known, family: 'ipv6' }).address === canonical) return true;
  return false;
}

/** The configured resolvers with each UDP one that is not public labelled by its place among them (own#1, own#2, ...). */
export function labelOwnResolvers(specs: readonly ResolverSpec[]): ResolverSpec[] {
  let own = 0;
  return specs.map((s) => (s.kind === 'udp' && s.label === undefined && !isPublicResolver(s.address) ? { ...s, label: ownResolverLabel(own++) } : s));
}

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
