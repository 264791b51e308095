// A lab PKI made at test time with the openssl command line: lab root, fake national interception root, odd leaves.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate with its key and the intermediates a server sends after it (leaf not included). */
export interface CertKey {
  cert: string;
  key: string;
  chain: string[];
}

export interface LabPki {
  domains: string[];
  /** "CN=ashyq lab root CA": trust it through TrustStore extraCa. */
  root: string;
  /** A leaf for every domain (SAN), issued by the lab root. */
  leaf: CertKey;
  /** The fake national interception PKI: "C=KZ, CN=Qaznet Trust Network" → "CN=Security Certificate" → leaf. */
  qaznet: { root: string; intermediate: string; leaf: CertKey };
  /** A self-signed leaf for the domains. */
  selfSigned: CertKey;
  /** A leaf for the domains from the lab root that expired in January 2020. */
  expired: CertKey;
  /** A leaf from the lab root for another name (`wrongHost.domain`), not the domains. */
  wrongHost: CertKey & { domain: string };
}

export const LAB_ROOT_SUBJECT = 'CN=ashyq lab root CA';
export const QAZNET_ROOT_SUBJECT = 'C=KZ, CN=Qaznet Trust Network';
export const QAZNET_INTERMEDIATE_SUBJECT = 'CN=Security Certificate';
export const WRONG_HOST = 'unrelated.example.net';

const cache = new Map<string, Promise<LabPki>>();

/** The lab PKI for these domains, made once per process per set of domains. */
export function makeLabPki(domains: string[]): Promise<LabPki> {
  if (domains.length === 0) throw new Error('makeLabPki needs at least one domain');
  const key = [...domains].sort().join(',');
  let pki = cache.get(key);
  if (!pki) {
    pki = generate(domains);
    cache.set(key, pki);
    pki.catch(() => cache.delete(key));
  }
  return pki;
}

function extensions(domains: string[]): string {
  const san = domains.map((d) => `DNS:${d}`).join(',');
  return `[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = ${san}
[v3_wrong]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:${WRONG_HOST}
[v3_self]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${san}
`;
}

function caConfig(dir: string): string {
  return `[ca]
default_ca = lab
[lab]
database = ${join(dir, 'index.txt')}
new_certs_dir = ${join(dir, 'issued')}
serial = ${join(dir, 'serial')}
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
`;
}

async function generate(domains: string[]): Promise<LabPki> {
  const dir = await mkdtemp(join(tmpdir(), 'ashyq-pki-'));
  try {
    const cnf = join(dir, 'openssl.cnf');
    await writeFile(cnf, extensions(domains));
    const file = (name: string) => join(dir, name);
    const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
    const serial = () => `0x${randomBytes(12).toString('hex')}`;

    const newKey = async (name: string) => {
      await openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(`${name}.key`));
    };
    const selfSigned = async (name: string, subject: string, section: string) => {
      await newKey(name);
      await openssl(
        'req', '-x509', '-new', '-config', cnf, '-key', file(`${name}.key`), '-subj', subject,
        '-days', '3650', '-extensions', section, '-set_serial', serial(), '-out', file(`${name}.pem`),
      );
    };
    const csr = async (name: string, subject: string) => {
      await newKey(name);
      await openssl('req', '-new', '-config', cnf, '-key', file(`${name}.key`), '-subj', subject, '-out', file(`${name}.csr`));
    };
    const sign = async (name: string, subject: string, issuer: string, section: string) => {
      await csr(name, subject);
      await openssl(
        'x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${issuer}.pem`), '-CAkey', file(`${issuer}.key`),
        '-set_serial', serial(), '-days', '825', '-sha256', '-extfile', cnf, '-extensions', section,
        '-out', file(`${name}.pem`),
      );
    };
    const cn = `/CN=${domains[0]}`;

    await selfSigned('root', '/CN=ashyq lab root CA', 'v3_root');
    await sign('leaf', cn, 'root', 'v3_leaf');
    await sign('wrong', `/CN=${WRONG_HOST}`, 'root', 'v3_wrong');
    await selfSigned('qaznet-root', '/C=KZ/CN=Qaznet Trust Network', 'v3_root');
    await sign('qaznet-intermediate', '/CN=Security Certificate', 'qaznet-root', 'v3_intermediate');
    await sign('qaznet-leaf', cn, 'qaznet-intermediate', 'v3_leaf');
    await selfSigned('self', cn, 'v3_self');

    // openssl x509 cannot back-date; `openssl ca` takes explicit dates.
    await mkdir(file('issued'));
    await writeFile(file('index.txt'), '');
    await writeFile(file('serial'), `${randomBytes(8).toString('hex')}\n`);
    await writeFile(file('ca.cnf'), caConfig(dir));
    await csr('expired', cn);
    await openssl(
      'ca', '-batch', '-notext', '-config', file('ca.cnf'), '-cert', file('root.pem'), '-keyfile', file('root.key'),
      '-in', file('expired.csr'), '-startdate', '20200101000000Z', '-enddate', '20200201000000Z',
      '-extfile', cnf, '-extensions', 'v3_leaf', '-out', file('expired.pem'),
    );

    const pem = (name: string) => readFile(file(name), 'utf8');
    const pair = async (name: string, chain: string[] = []): Promise<CertKey> => ({
      cert: await pem(`${name}.pem`),
      key: await pem(`${name}.key`),
      chain,
    });
    const intermediate = await pem('qaznet-intermediate.pem');
    return {
      domains: [...domains],
      root: await pem('root.pem'),
      leaf: await pair('leaf'),
      qaznet: { root: await pem('qaznet-root.pem'), intermediate, leaf: await pair('qaznet-leaf', [intermediate]) },
      selfSigned: await pair('self'),
      expired: await pair('expired'),
      wrongHost: { ...(await pair('wrong')), domain: WRONG_HOST },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
