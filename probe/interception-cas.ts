// Known TLS interception CAs used in Kazakhstan, as data, and the matcher the classifier uses on a peer chain.
import { dnMatches, parseDistinguishedName } from './classify/distinguished-name.js';
import type { CertificateInfo } from '../contract/evidence.js';

export interface InterceptionCa {
  /** Shown in verdict reasons. */
  name: string;
  /** Where it was seen and documented. */
  note: string;
  /**
   * Distinguished-name patterns of the CA's certificates (every attribute given must match). They
   * are matched against the subject AND the issuer of every certificate in the chain, because an
   * interceptor often sends only the leaf and its intermediate, never the root itself.
   */
  names: ReadonlyArray<Readonly<Record<string, string>>>;
  /** SHA-256 of the DER certificate, upper-case hex with colons (Node's fingerprint256 form). */
  fingerprints256: readonly string[];
  /** SHA-256 of the DER SubjectPublicKeyInfo, base64. */
  spkiSha256: readonly string[];
}

export const INTERCEPTION_CAS: readonly InterceptionCa[] = [
  {
    name: 'Qaznet Trust Network (2019 root)',
    note:
      'Root of the July 2019 nationwide interception (Censored Planet, "Kazakhstan\'s HTTPS Interception", ' +
      '2019; IMC 2020). Blocked by Chromium (net/data/ssl/blocklist, "Qaznet Trust Network") and Mozilla OneCRL.',
    names: [{ C: 'KZ', CN: 'Qaznet Trust Network' }],
    // Self-signed, valid 2016-02-02 to 2046-02-02, serial 3d:95:7f:ca:1f:8c:0f:c8:69:2c:01:99:4e:b5:52:31:03:5b:9d:f1.
    fingerprints256: [
      '00:30:9C:73:6D:D6:61:DA:6F:1E:B2:41:73:AA:84:99:44:C1:68:A4:3A:15:BF:FD:19:2E:EC:FD:B6:F8:DB:D2',
    ],
    spkiSha256: ['tbqN1/iVZMKInT1kU8hJmMd4JJGbZOoINapimGWRvlA='],
  },
  {
    name: 'Security Certificate (2019 intermediate under Qaznet Trust Network)',
    note:
      'The 2019 interception leaves were issued by "C=KZ, CN=Security Certificate", signed by the Qaznet ' +
      'Trust Network root (Censored Planet 2019).',
    names: [{ C: 'KZ', CN: 'Security Certificate' }],
    // No SHA-256 fingerprint of this intermediate is published in a source we could verify: matched by name only.
    fingerprints256: [],
    spkiSha256: [],
  },
  {
    name: 'Information Security Certification Authority (ISCA, 2020 root)',
    note:
      'Root of the December 2020 interception drills and of the 2021-2024 interception seen by OONI ' +
      '("Kazakhstan: TLS MITM attacks ...", 2024), which found intermediates under several roots of this ' +
      'name. The two roots blocked by Chromium (net/data/ssl/blocklist) are pinned by fingerprint; the ' +
      'other roots of the same name are matched by name.',
    names: [
      { C: 'KZ', O: 'ISCA', CN: 'Information Security Certification Authority' },
      { C: 'KZ', O: 'ISCA', CN: 'Information Security Certification Authority CA' },
    ],
    fingerprints256: [
      // CN=Information Security Certification Authority, O=ISCA, C=KZ; 2020-02-28 to 2040-02-28.
      '1D:F6:96:F0:21:AB:1C:3A:CE:9A:37:6B:07:ED:72:56:A4:02:14:CD:33:96:D7:93:40:87:61:49:24:E2:D7:EF',
      // CN=Information Security Certification Authority CA, O=ISCA, C=KZ; 2020-02-28 to 2040-02-28.
      '61:C0:FC:2E:38:B5:B6:F9:07:1B:42:CE:E5:4A:90:13:D8:58:B6:69:7C:68:B4:60:94:85:51:B3:24:95:76:A1',
    ],
    spkiSha256: ['sT+i5hMaiIoB89YgVvsO++mZ62tuFJJ2E+ArqLj7BG4=', 'jhLQyzt98+oiV1eUif2GWMlWA+ps9LcxY6Qet7fpP+4='],
  },
];

export interface InterceptionCaMatch {
  name: string;
  by: 'subject' | 'fingerprint';
}

/** Upper-case hex without separators, so "aa:bb" and "AABB" compare equal. */
function normalizeFingerprint(value: string): string {
  return value.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
}

/**
 * The known interception CA that a peer chain (leaf first) belongs to, or null. A fingerprint or
 * SPKI hit anywhere in the chain wins over a name match; names are compared on each certificate's
 * subject and issuer.
 */
export function matchInterceptionCa(
  chain: readonly CertificateInfo[],
  cas: readonly InterceptionCa[] = INTERCEPTION_CAS,
): InterceptionCaMatch | null {
  for (const ca of cas) {
    const fps = new Set(ca.fingerprints256.map(normalizeFingerprint));
    const spkis = new Set(ca.spkiSha256);
    for (const cert of chain) {
      if (fps.has(normalizeFingerprint(cert.fingerprint256))) return { name: ca.name, by: 'fingerprint' };
      if (cert.spki_sha256 !== null && spkis.has(cert.spki_sha256)) return { name: ca.name, by: 'fingerprint' };
    }
  }
  for (const ca of cas) {
    for (const cert of chain) {
      const subject = parseDistinguishedName(cert.subject);
      const issuer = parseDistinguishedName(cert.issuer);
      if (ca.names.some((n) => dnMatches(subject, n) || dnMatches(issuer, n))) return { name: ca.name, by: 'subject' };
    }
  }
  return null;
}
