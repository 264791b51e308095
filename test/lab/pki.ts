// The lab's certificates, made with openssl at lab start: a lab CA for the real sites, and a fake national root for interception.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './shell.js';

/** The subject of the CA the probe is told to trust (measure.extra_ca_files): stands for the public roots. */
export const LAB_CA_SUBJECT = '/O=ashyq lab/CN=ashyq lab public root';
/**
 * The censor's interception root: a new national root that no known-interception-CA list holds, so
 * the probe must catch it as an untrusted chain, not by name.
 */
export const NATIONAL_ROOT_SUBJECT = '/C=KZ/O=Lab National Security/CN=Lab National Security Certificate';
export const NATIONAL_ROOT_CN = 'Lab National Security Certificate';

export interface LabPkiFiles {
  /** The lab CA (trusted by the probe). */
  caCert: string;
  /** One server certificate (leaf + nothing else: the CA is the issuer) for every lab domain. */
  serverCert: string;
  serverKey: string;
  /** The fake national root and its key (the interceptor forges leaves with it). */
  nationalCert: string;
  nationalKey: string;
  /** The hotel portal's own self-signed certificate (what it presents for every HTTPS name it catches). */
  portalCert: string;
  portalKey: string;
}

/** The portal's self-signed certificate's subject (the issuer a probe behind it sees). */
export const PORTAL_SUBJECT = '/O=Lab Hotel Wi-Fi/CN=login.wifi.lab';

function opensslConfig(domains: readonly string[]): string {
  return `[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = ${domains.map((d) => `DNS:${d}`).join(',')}
`;
}

/** Make the lab's keys and certificates in `dir`. */
export async function makeLabPki(dir: string, domains: readonly string[]): Promise<LabPkiFiles> {
  const file = (name: string) => join(dir, name);
  const cnf = file('openssl.cnf');
  await writeFile(cnf, opensslConfig(domains));
  const openssl = (...args: string[]) => run('openssl', args);
  const serial = () => `0x${randomBytes(12).toString('hex')}`;
  const key = (name: string) =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(`${name}.key`));
  const root = async (name: string, subject: string) => {
    await key(name);
    await openssl(
      'req', '-x509', '-new', '-config', cnf, '-key', file(`${name}.key`), '-subj', subject,
      '-days', '3650', '-extensions', 'v3_root', '-set_serial', serial(), '-out', file(`${name}.pem`),
    );
  };

  await root('lab-ca', LAB_CA_SUBJECT);
  await root('national-root', NATIONAL_ROOT_SUBJECT);
  await root('portal', PORTAL_SUBJECT);
  await key('server');
  await openssl('req', '-new', '-config', cnf, '-key', file('server.key'), '-subj', `/CN=${domains[0] ?? 'lab'}`, '-out', file('server.csr'));
  await openssl(
    'x509', '-req', '-in', file('server.csr'), '-CA', file('lab-ca.pem'), '-CAkey', file('lab-ca.key'),
    '-set_serial', serial(), '-days', '825', '-sha256', '-extfile', cnf, '-extensions', 'v3_leaf', '-out', file('server.pem'),
  );
  return {
    caCert: file('lab-ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    nationalCert: file('national-root.pem'),
    nationalKey: file('national-root.key'),
    portalCert: file('portal.pem'),
    portalKey: file('portal.key'),
  };
}
