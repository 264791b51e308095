// Table test of isBogon: every special-purpose range at its edges, and public addresses just outside them.
import { describe, expect, it } from 'vitest';
import { isBogon } from '../probe/bogon.js';
import { InvalidArgumentError } from '../common/errors.js';

const BOGONS: Array<[string, string]> = [
  ['0.0.0.0', 'this network'],
  ['0.255.255.255', 'this network, top'],
  ['10.0.0.0', 'private 10/8'],
  ['10.10.34.36', 'the address Kazakh ISPs answered for blocked names'],
  ['10.255.255.255', 'private 10/8, top'],
  ['100.64.0.0', 'CGNAT, bottom'],
  ['100.127.255.255', 'CGNAT, top'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback, top'],
  ['169.254.0.1', 'link-local'],
  ['169.254.255.255', 'link-local, top'],
  ['172.16.0.0', 'private 172.16/12, bottom'],
  ['172.31.255.255', 'private 172.16/12, top'],
  ['192.0.0.8', 'IETF protocol assignments'],
  ['192.0.2.1', 'TEST-NET-1'],
  ['192.168.0.1', 'private 192.168/16'],
  ['192.168.255.255', 'private 192.168/16, top'],
  ['198.18.0.0', 'benchmarking, bottom'],
  ['198.19.255.255', 'benchmarking, top'],
  ['198.51.100.7', 'TEST-NET-2'],
  ['203.0.113.200', 'TEST-NET-3'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast, top (SSDP)'],
  ['240.0.0.1', 'reserved class E'],
  ['255.255.255.255', 'limited broadcast'],
  ['::', 'IPv6 unspecified'],
  ['::1', 'IPv6 loopback'],
  ['0:0:0:0:0:0:0:1', 'IPv6 loopback, long form'],
  ['::ffff:10.10.34.36', 'IPv4-mapped private (dotted)'],
  ['::ffff:a0a:2224', 'IPv4-mapped private (hex)'],
  ['::FFFF:127.0.0.1', 'IPv4-mapped loopback, upper case'],
  ['::10.0.0.1', 'deprecated IPv4-compatible'],
  ['64:ff9b::10.10.34.36', 'NAT64 of a private address'],
  ['64:ff9b:1::1', 'local-use NAT64'],
  ['100::1', 'discard-only'],
  ['2001:2::1', 'IPv6 benchmarking'],
  ['2001:db8::1', 'IPv6 documentation'],
  ['2001:0db8:ffff:ffff:ffff:ffff:ffff:ffff', 'IPv6 documentation, top'],
  ['2002:0a00:0001::1', '6to4 of a private address'],
  ['2002:c0a8:0101::', '6to4 of 192.168.1.1'],
  ['3fff::1', 'IPv6 documentation (RFC 9637)'],
  ['5f00::1', 'SRv6 SIDs'],
  ['fc00::1', 'unique local'],
  ['fd12:3456:789a::1', 'unique local fd00::/8'],
  ['fe80::1', 'IPv6 link-local'],
  ['fe80::1%eth0', 'IPv6 link-local with zone id'],
  ['febf:ffff::1', 'IPv6 link-local, top'],
  ['fec0::1', 'deprecated site-local'],
  ['ff02::1', 'IPv6 multicast'],
  ['ff0e::fb', 'IPv6 global multicast'],
  ['4000::1', 'outside 2000::/3, never allocated'],
  ['1::1', 'outside 2000::/3, never allocated'],
];

const PUBLIC: Array<[string, string]> = [
  ['1.1.1.1', 'public resolver'],
  ['8.8.8.8', 'public resolver'],
  ['9.255.255.255', 'just below 10/8'],
  ['11.0.0.0', 'just above 10/8'],
  ['100.63.255.255', 'just below CGNAT'],
  ['100.128.0.0', 'just above CGNAT'],
  ['126.255.255.255', 'just below loopback'],
  ['128.0.0.0', 'just above loopback'],
  ['149.154.167.51', 'Telegram data centre'],
  ['169.253.255.255', 'just below link-local'],
  ['172.15.255.255', 'just below 172.16/12'],
  ['172.32.0.0', 'just above 172.16/12'],
  ['192.0.1.255', 'between 192.0.0/24 and TEST-NET-1'],
  ['192.167.255.255', 'just below 192.168/16'],
  ['192.169.0.0', 'just above 192.168/16'],
  ['198.17.255.255', 'just below benchmarking'],
  ['198.20.0.0', 'just above benchmarking'],
  ['203.0.114.0', 'just above TEST-NET-3'],
  ['223.255.255.255', 'just below multicast'],
  ['142.250.74.46', 'a YouTube front end'],
  ['2a00:1450:4001:82a::200e', 'a YouTube front end (IPv6)'],
  ['2001:4860:4860::8888', 'public resolver (IPv6)'],
  ['2001:db7:ffff::1', 'just below IPv6 documentation'],
  ['2001:db9::1', 'just above IPv6 documentation'],
  ['2000::1', 'bottom of 2000::/3'],
  ['3ffe:ffff::1', 'inside 2000::/3, below 3fff::/20'],
  ['3fff:1000::1', 'just above 3fff::/20'],
  ['::ffff:8.8.8.8', 'IPv4-mapped public'],
  ['::ffff:808:808', 'IPv4-mapped public (hex)'],
  ['64:ff9b::8.8.8.8', 'NAT64 of a public address'],
  ['2002:0808:0808::1', '6to4 of a public address'],
  ['2001::1', 'Teredo'],
];

describe('isBogon', () => {
  it.each(BOGONS)('%s is a bogon (%s)', (ip) => {
    expect(isBogon(ip)).toBe(true);
  });

  it.each(PUBLIC)('%s is public (%s)', (ip) => {
    expect(isBogon(ip)).toBe(false);
  });

  it.each(['', 'youtube.com', '10.0.0', '256.1.1.1', '1.2.3.4.5', '::g', '1:2:3:4:5:6:7:8:9', '2001:db8::1::2'])(
    'rejects %j as not an address',
    (text) => {
      expect(() => isBogon(text)).toThrow(InvalidArgumentError);
    },
  );
});
