// Addresses in page text are removed before they become evidence.
import { describe, expect, it } from 'vitest';
import { redactAddresses } from '../probe/redact.js';

describe('redactAddresses', () => {
  it.each([
    ['Ваш IP-адрес: 95.56.12.34', 'Ваш IP-адрес: [address]'],
    ['<b>2.132.0.1</b> blocked', '<b>[address]</b> blocked'],
    ['client 2a02:a80:1::5 denied', 'client [address] denied'],
    ['mapped ::ffff:95.56.12.34 here', 'mapped [address] here'],
    ['full 2001:0db8:0000:0000:0000:ff00:0042:8329.', 'full [address].'],
    ['loopback ::1', 'loopback [address]'],
    ['Ваш IP: 95.56.12.34. Ресурс', 'Ваш IP: [address]. Ресурс'],
  ])('%s', (input, output) => {
    expect(redactAddresses(input)).toBe(output);
  });

  it.each(['version 1.2.3', 'time 12:30:45', 'ratio 10:1', 'build 2026.11.24.1', 'no digits here', 'a.b.c.d', '999.1.1.1'])(
    'keeps %s',
    (text) => {
      expect(redactAddresses(text)).toBe(text);
    },
  );
});
