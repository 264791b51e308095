// Bogon test for DNS answers: is an address one that no public service can legitimately have?
import net from 'node:net';
import { InvalidArgumentError } from '../common/errors.js';

/** A prefix as bytes (4 for IPv4, 16 for IPv6) and its length in bits. */
interface Prefix {
  bytes: number[];
  bits: number;
  /** Why the range is not a public unicast address (for readers; not used by the code). */
  why: string;
}

function v4(cidr: string, why: string): Prefix {
  const [addr, bits] = cidr.split('/');
  const bytes = parseIPv4(addr ?? '');
  if (bytes === null || bits === undefined) throw new InvalidArgumentError(`bad IPv4 prefix ${cidr}`);
  return { bytes, bits: Number(bits), why };
}

function v6(cidr: string, why: string): Prefix {
  const [addr, bits] = cidr.split('/');
  const bytes = parseIPv6(addr ?? '');
  if (bytes === null || bits === undefined) throw new InvalidArgumentError(`bad IPv6 prefix ${cidr}`);
  return { bytes, bits: Number(bits), why };
}

/** IPv4 ranges that are not globally reachable unicast (RFC 6890 and the IANA special-purpose registry). */
const IPV4_BOGONS: readonly Prefix[] = [
  v4('0.0.0.0/8', '"this network" (RFC 791)'),
  v4('10.0.0.0/8', 'private (RFC 1918)'),
  v4('100.64.0.0/10', 'carrier-grade NAT shared space (RFC 6598)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private (RFC 1918)'),
  v4('192.0.0.0/24', 'IETF protocol assignments (RFC 6890)'),
  v4('192.0.2.0/24', 'documentation TEST-NET-1'),
  v4('192.168.0.0/16', 'private (RFC 1918)'),
  v4('198.18.0.0/15', 'benchmarking (RFC 2544)'),
  v4('198.51.100.0/24', 'documentation TEST-NET-2'),
  v4('203.0.113.0/24', 'documentation TEST-NET-3'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved, including the limited broadcast 255.255.255.255'),
];

/** IPv6 ranges inside 2000::/3 that are not globally reachable unicast. */
const IPV6_BOGONS: readonly Prefix[] = [
  v6('2001:2::/48', 'benchmarking (RFC 5180)'),
  v6('2001:db8::/32', 'documentation (RFC 3849)'),
  v6('3fff::/20', 'documentation (RFC 9637)'),
  v6('5f00::/16', 'SRv6 SIDs (RFC 9602)'),
];

/** Global unicast: everything IANA has allocated for public IPv6 addresses. */
const IPV6_GLOBAL_UNICAST = v6('2000::/3', 'global unicast');
/** ::ffff:a.b.c.d — an IPv4 address written as IPv6. */
const IPV4_MAPPED = v6('::ffff:0:0/96', 'IPv4-mapped');
/** 64:ff9b::a.b.c.d — NAT64 well-known prefix (RFC 6052): public exactly when the embedded IPv4 is. */
const NAT64 = v6('64:ff9b::/96', 'NAT64 well-known prefix');
/** 2002:AABB:CCDD::/48 — 6to4 (RFC 3056): the embedded IPv4 address decides. */
const SIX_TO_FOUR = v6('2002::/16', '6to4');

function inPrefix(bytes: number[], prefix: Prefix): boolean {
  if (bytes.length !== prefix.bytes.length) return false;
  let bits = prefix.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((prefix.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

/** Dotted-quad IPv4 to 4 bytes, or null when it is not one. */
function parseIPv4(text: string): number[] | null {
  if (!net.isIPv4(text)) return null;
  return text.split('.').map(Number);
}

/** IPv6 text (with optional zone id and dotted IPv4 tail) to 16 bytes, or null when it is not one. */
function parseIPv6(text: string): number[] | null {
  const zone = text.indexOf('%');
  const addr = zone === -1 ? text : text.slice(0, zone);
  if (!net.isIPv6(addr)) return null;
  let body = addr;
  const lastColon = body.lastIndexOf(':');
  const last = body.slice(lastColon + 1);
  if (last.includes('.')) {
    // A dotted IPv4 tail (::ffff:10.0.0.1) stands for the last two words.
    const quad = parseIPv4(last);
    if (quad === null) return null;
    const [a = 0, b = 0, c = 0, d = 0] = quad;
    body = `${body.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  let words = head;
  if (halves.length === 2) {
    const rest = halves[1] ? halves[1].split(':') : [];
    const missing = 8 - head.length - rest.length;
    if (missing < 1) return null;
    words = [...head, ...Array<string>(missing).fill('0'), ...rest];
  }
  if (words.length !== 8) return null;
  const bytes: number[] = [];
  for (const word of words) {
    const value = parseInt(word, 16);
    if (!/^[0-9a-fA-F]{1,4}$/.test(word) || Number.isNaN(value)) return null;
    bytes.push(value >> 8, value & 0xff);
  }
  return bytes;
}

function isBogonV4(bytes: number[]): boolean {
  return IPV4_BOGONS.some((p) => inPrefix(bytes, p));
}

function isBogonV6(bytes: number[]): boolean {
  if (inPrefix(bytes, IPV4_MAPPED) || inPrefix(bytes, NAT64)) return isBogonV4(bytes.slice(12, 16));
  if (inPrefix(bytes, SIX_TO_FOUR)) return isBogonV4(bytes.slice(2, 6));
  // Outside 2000::/3 lie ::/128, ::1, fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10
  // (old site-local), ff00::/8 (multicast), 100::/64 (discard) and space IANA has never allocated.
  if (!inPrefix(bytes, IPV6_GLOBAL_UNICAST)) return true;
  return IPV6_BOGONS.some((p) => inPrefix(bytes, p));
}

/**
 * True when `ip` (IPv4 or IPv6 text) is an address no public service can have: private, loopback,
 * link-local, CGNAT, multicast, reserved, documentation, benchmarking, or an IPv4-mapped / NAT64 /
 * 6to4 address embedding such an IPv4 address. Throws InvalidArgumentError when `ip` is not an IP
 * address.
 */
export function isBogon(ip: string): boolean {
  const four = parseIPv4(ip);
  if (four !== null) return isBogonV4(four);
  const six = parseIPv6(ip);
  if (six !== null) return isBogonV6(six);
  throw new InvalidArgumentError(`not an IP address: ${JSON.stringify(ip)}`);
}
