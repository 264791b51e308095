// Tests of the interception-CA data and matcher, against the real published CA certificates.
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeDn, dnMatches, parseDistinguishedName } from '../probe/classify/distinguished-name.js';
import type { CertificateInfo } from '../contract/evidence.js';
import { INTERCEPTION_CAS, matchInterceptionCa } from '../probe/interception-cas.js';
import { cert, publicChain } from './classify-builders.js';

const CERTS = new URL('./fixtures/classify/certs/', import.meta.url);

/** CertificateInfo the way a measurement records it from a DER/PEM certificate. */
function infoFromPem(file: string): CertificateInfo {
  const x = new X509Certificate(readFileSync(new URL(file, CERTS)));
  const spki = x.publicKey.export({ type: 'spki', format: 'der' });
  return {
    subject: x.subject,
    issuer: x.issuer,
    fingerprint256: x.fingerprint256,
    spki_sha256: createHash('sha256').update(spki).digest('base64'),
    serial: x.serialNumber,
    valid_from: x.validFrom,
    valid_to: x.validTo,
    san: [],
  };
}

const REAL = [
  { file: 'qaznet-trust-network-2019.pem', name: 'Qaznet Trust Network (2019 root)' },
  { file: 'isca-2020.pem', name: 'Information Security Certification Authority (ISCA, 2020 root)' },
  { file: 'isca-ca-2020.pem', name: 'Information Security Certification Authority (ISCA, 2020 root)' },
];

describe('INTERCEPTION_CAS data', () => {
  it.each(REAL)('lists the fingerprint and SPKI hash of $file as computed from the certificate', ({ file, name }) => {
    const info = infoFromPem(file);
    const ca = INTERCEPTION_CAS.find((c) => c.name === name);
    expect(ca?.fingerprints256).toContain(info.fingerprint256);
    expect(ca?.spkiSha256).toContain(info.spki_sha256);
  });

  it('lists fingerprints only in the Node form (upper-case hex with colons, 32 bytes)', () => {
    for (const ca of INTERCEPTION_CAS) for (const fp of ca.fingerprints256) expect(fp).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('has a name pattern for every CA and unique names', () => {
    expect(new Set(INTERCEPTION_CAS.map((c) => c.name)).size).toBe(INTERCEPTION_CAS.length);
    for (const ca of INTERCEPTION_CAS) expect(ca.names.length).toBeGreaterThan(0);
  });
});

describe('matchInterceptionCa', () => {
  it.each(REAL)('matches the real $file by fingerprint', ({ file, name }) => {
    expect(matchInterceptionCa([infoFromPem(file)])).toEqual({ name, by: 'fingerprint' });
  });

  it('matches by fingerprint anywhere in the chain, even when the names were changed', () => {
    const root = infoFromPem('qaznet-trust-network-2019.pem');
    const chain = [cert('CN=*.instagram.com', 'CN=Renamed'), cert('CN=Renamed', 'CN=Other'), { ...root, subject: 'CN=Other', issuer: 'CN=Other' }];
    expect(matchInterceptionCa(chain)).toEqual({ name: 'Qaznet Trust Network (2019 root)', by: 'fingerprint' });
  });

  it('matches a re-issued certificate with the same key by its SPKI hash', () => {
    const real = infoFromPem('isca-2020.pem');
    const reissued = cert('CN=Anything', 'CN=Anything', { spki_sha256: real.spki_sha256 });
    expect(matchInterceptionCa([reissued])?.by).toBe('fingerprint');
  });

  it('matches one of the other same-name ISCA roots (unknown fingerprint) by subject', () => {
    const otherRoot = cert('C=KZ\nO=ISCA\nCN=Information Security Certification Authority', 'C=KZ\nO=ISCA\nCN=Information Security Certification Authority');
    expect(matchInterceptionCa([otherRoot])).toEqual({ name: 'Information Security Certification Authority (ISCA, 2020 root)', by: 'subject' });
  });

  it('matches a leaf alone by its issuer: the 2019 intermediate "C=KZ, CN=Security Certificate"', () => {
    const leaf = cert('CN=*.facebook.com', 'C=KZ, CN=Security Certificate', { san: ['*.facebook.com'] });
    expect(matchInterceptionCa([leaf])).toEqual({ name: 'Security Certificate (2019 intermediate under Qaznet Trust Network)', by: 'subject' });
  });

  it('matches an intermediate whose issuer is the ISCA root, in any DN spelling', () => {
    for (const issuer of [
      'C=KZ,O=ISCA,CN=Information Security Certification Authority',
      'CN = Information Security Certification Authority, O = ISCA, C = KZ',
      '/C=KZ/O=ISCA/CN=Information Security Certification Authority',
      'C=KZ\nO=ISCA\nCN=Information Security Certification Authority',
    ]) {
      expect(matchInterceptionCa([cert('CN=*.google.com', 'C=KZ\nCN=ISCA Intermediate'), cert('C=KZ\nCN=ISCA Intermediate', issuer)])?.by).toBe('subject');
    }
  });

  it('prefers a fingerprint match over a subject match in the same chain', () => {
    const chain = [cert('CN=*.vk.com', 'C=KZ, CN=Security Certificate'), infoFromPem('qaznet-trust-network-2019.pem')];
    expect(matchInterceptionCa(chain)?.by).toBe('fingerprint');
  });

  it('does not match public chains or look-alike names', () => {
    expect(matchInterceptionCa(publicChain('www.youtube.com'))).toBeNull();
    expect(matchInterceptionCa([cert('CN=www.example.com', 'CN=Security Certificate')])).toBeNull(); // no C=KZ: too generic
    expect(matchInterceptionCa([cert('CN=www.example.com', 'C=US, CN=Qaznet Trust Network')])).toBeNull();
    expect(matchInterceptionCa([cert('CN=www.example.com', 'C=KZ, O=ISCA, CN=Information Security')])).toBeNull();
    expect(matchInterceptionCa([])).toBeNull();
  });

  it('compares fingerprints regardless of case and separators', () => {
    const fp = (INTERCEPTION_CAS[0]?.fingerprints256[0] ?? '').replace(/:/g, '').toLowerCase();
    expect(matchInterceptionCa([cert('CN=x', 'CN=y', { fingerprint256: fp })])?.by).toBe('fingerprint');
  });
});

describe('distinguished names', () => {
  it('parses the forms Node and OpenSSL print', () => {
    const forms = [
      'C=KZ\nCN=Qaznet Trust Network',
      'C=KZ, CN=Qaznet Trust Network',
      'C = KZ, CN = Qaznet Trust Network',
      '/C=KZ/CN=Qaznet Trust Network',
      'CN=Qaznet Trust Network,C=KZ',
    ];
    for (const f of forms) expect(dnMatches(parseDistinguishedName(f), { C: 'kz', CN: 'qaznet trust network' })).toBe(true);
  });

  it('keeps commas inside values and honours escapes', () => {
    const dn = parseDistinguishedName('C=US, O=Meta Platforms, Inc., CN=*.facebook.com');
    expect(dn.get('O')).toEqual(['Meta Platforms, Inc.']);
    expect(parseDistinguishedName('O=A\\, B, CN=x').get('O')).toEqual(['A, B']);
  });

  it('describes a name for reasons', () => {
    expect(describeDn('C=KZ\nO=ISCA\nCN=Information Security Certification Authority')).toBe(
      '"Information Security Certification Authority" (O=ISCA, C=KZ)',
    );
  });

  it('needs every pattern attribute and at least one', () => {
    expect(dnMatches(parseDistinguishedName('CN=Security Certificate'), { C: 'KZ', CN: 'Security Certificate' })).toBe(false);
    expect(dnMatches(parseDistinguishedName('CN=x'), {})).toBe(false);
  });
});
