// Tests of reading the system's resolvers from resolv.conf text (the file itself is injected through the network).
import { describe, expect, it } from 'vitest';
import { parseResolvConf } from '../probe/measure/resolv-conf.js';
import { isSystemResolver, systemResolverLabel } from '../contract/evidence.js';

describe('parseResolvConf', () => {
  it('reads nameservers in order, IPv4 and IPv6, at most three, without zone ids or duplicates', () => {
    const text = [
      '# generated',
      'search lan',
      'nameserver 192.168.1.1',
      'nameserver   fe80::1%eth0   ; the router',
      'nameserver 192.168.1.1',
      'options timeout:1 attempts:1',
      'nameserver 8.8.8.8',
      'nameserver 1.1.1.1',
    ].join('\n');
    expect(parseResolvConf(text)).toEqual([
      { address: '192.168.1.1', port: 53 },
      { address: 'fe80::1', port: 53 },
      { address: '8.8.8.8', port: 53 },
    ]);
  });

  it('ignores what is not an address and commented lines', () => {
    expect(parseResolvConf('nameserver resolver.lan\n#nameserver 9.9.9.9\nnameserver\n')).toEqual([]);
  });

  it('names them by place, never by address', () => {
    expect([systemResolverLabel(0), systemResolverLabel(2)]).toEqual(['system#1', 'system#3']);
    expect(['system', 'system#1', 'udp:8.8.8.8:53'].map(isSystemResolver)).toEqual([true, true, false]);
  });
});
