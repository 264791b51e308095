// IP → ASN, country and network name from range CSVs: parsing, lookups, and the database bundled as npm packages.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { attribute, bundledIpDatabaseFiles, csvFields, loadIpDatabase, normaliseIp, parseIpv4, parseIpv6High } from '../collector/ingest/asn.js';
import { ConfigError } from '../common/errors.js';
import { FIXTURES } from './fixtures/collector/helpers.js';

const SAMPLE = { asn: [path.join(FIXTURES, 'asn-sample.csv')], country: [path.join(FIXTURES, 'country-sample.csv')] };

describe('IP database', () => {
  it('parses addresses and CSV fields', () => {
    expect(parseIpv4('2.132.0.1')).toBe(2 * 2 ** 24 + 132 * 2 ** 16 + 1);
    expect(parseIpv4('256.1.1.1')).toBeNull();
    expect(parseIpv4('1.2.3')).toBeNull();
    expect(parseIpv6High('2a02:2168::1')).toEqual([0x2a022168, 0]);
    expect(parseIpv6High('2001:db8:1:2:3:4:5:6')).toEqual([0x20010db8, 0x00010002]);
    expect(parseIpv6High('::ffff:1.2.3.4')).toEqual([0, 0]);
    expect(parseIpv6High('fe80::1%eth0')).toEqual([0xfe800000, 0]);
    expect(parseIpv6High('1::2::3')).toBeNull();
    expect(parseIpv6High('1.2.3.4')).toBeNull();
    expect(normaliseIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(csvFields('5.34.0.0,5.34.31.255,21299,"Kar-Tel LLC ""Beeline"""')).toEqual(['5.34.0.0', '5.34.31.255', '21299', 'Kar-Tel LLC "Beeline"']);
    expect(csvFields('1.0.0.0,1.0.0.255,13335,"Cloudflare, Inc."')).toEqual(['1.0.0.0', '1.0.0.255', '13335', 'Cloudflare, Inc.']);
  });

  it.each([
    ['parsed in a thread of its own', {}],
    ['parsed on the calling thread', { inThread: false }],
  ])('looks up IPv4, IPv4-mapped and IPv6 addresses in range files (%s)', async (_, options) => {
    const { lookup, ranges } = await loadIpDatabase(SAMPLE, options);
    expect(ranges).toBe(10);
    expect(lookup('2.133.10.20')).toEqual({ asn: 9198, cc: 'KZ', network: 'JSC Kazakhtelecom' });
    expect(lookup('::ffff:5.34.1.1')).toEqual({ asn: 21299, cc: 'KZ', network: 'Kar-Tel LLC "Beeline"' });
    expect(lookup('2.135.255.255')).toMatchObject({ asn: 9198 });
    expect(lookup('2.136.0.0')).toBeNull();
    expect(lookup('203.0.113.5')).toEqual({ asn: 64500, cc: null, network: 'Documentation Net' });
    expect(lookup('2a02:2168:1234::5')).toEqual({ asn: 9198, cc: 'KZ', network: 'JSC Kazakhtelecom' });
    expect(lookup('2001:db8:1:ffff::1')).toMatchObject({ asn: 64501 });
    expect(lookup('2001:db8:2::1')).toBeNull();
    expect(lookup('127.0.0.1')).toBeNull();
    expect(lookup('not an address')).toBeNull();
  });

  it('names a missing file as a config fault, from the loading thread too', async () => {
    const missing = path.join(FIXTURES, 'nope.csv');
    for (const options of [{}, { inThread: false }]) {
      const err = await loadIpDatabase({ asn: [missing], country: [] }, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toMatch(new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ip_db: cannot read: ENOENT`));
    }
  });

  it('ships a usable database in the npm packages @ip-location-db/asn and @ip-location-db/asn-country', async () => {
    const files = bundledIpDatabaseFiles();
    expect(files.asn.map((f) => path.basename(f))).toEqual(['asn-ipv4.csv', 'asn-ipv6.csv']);
    const started = performance.now();
    const { lookup, ranges } = await loadIpDatabase(files);
    const took = performance.now() - started;
    expect(ranges).toBeGreaterThan(100_000);
    expect(took).toBeLessThan(20_000);
    // Kazakhtelecom's long-standing 2.132.0.0/14 block.
    expect(lookup('2.134.1.1')).toMatchObject({ asn: 9198, cc: 'KZ' });
    expect(lookup('2.134.1.1')?.network).toMatch(/Kazakhtelecom/i);
    expect(lookup('10.1.2.3')).toBeNull();
  });
});

describe('attribute: the one network attribution of an archived measurement', () => {
  const claimed = { asn: 48503, cc: 'KZ', network: 'Tele2' };
  it('takes the lookup where it found an ASN, filling what the database lacks from the claim', () => {
    expect(attribute({ asn: 9198, cc: 'KZ', network: 'Kazakhtelecom' }, claimed)).toEqual({ asn: 9198, cc: 'KZ', network: 'Kazakhtelecom' });
    expect(attribute({ asn: 9198, cc: null, network: null }, claimed)).toEqual({ asn: 9198, cc: 'KZ', network: 'Tele2' });
  });
  it("takes the probe's claim when the lookup found nothing or was not made (a proxied upload)", () => {
    expect(attribute({ asn: null, cc: 'NL', network: null }, claimed)).toEqual(claimed);
    expect(attribute(null, claimed)).toEqual(claimed);
  });
});
