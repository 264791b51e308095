// The collector's TLS files: read as configured, or with `tls: auto` a self-signed certificate and key made in the data dir at first start and kept (volunteers pin that key).
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import path from 'node:path';
import { ConfigError } from '../common/errors.js';
import { spkiSha256 } from '../contract/pin.js';
import type { ServerLog } from './api/server.js';
import type { CollectorConfig } from './config.js';

/** What the HTTPS server is given: the PEM certificate and key. */
export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export interface AutoTls extends TlsFiles {
  /** The key's pin as probes check it (base64 SHA-256 of the SPKI DER). */
  pin: string;
  /** What this start made: both files, a certificate for the kept key, or nothing. */
  made: 'key and certificate' | 'certificate' | null;
}

// --- A minimal DER writer: just what one self-signed X.509 v3 certificate needs. ---

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, content: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
/** [n] EXPLICIT, constructed. */
const explicit = (n: number, content: Buffer): Buffer => tlv(0xa0 | n, content);

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const groups: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      groups.unshift(v % 128);
      if (v < 128) break;
    }
    out.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return tlv(0x06, Buffer.from(out));
}

/** A non-negative INTEGER from big-endian bytes. */
function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && b[1]! < 0x80) b = b.subarray(1);
  return tlv(0x02, b[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}

const commonName = (name: string): Buffer => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(name, 'utf8')))));

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.from([0xff]))] : []), tlv(0x04, value));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  if (ip.includes('.')) throw new Error(`selfSignedCertificate: write ${ip} without an embedded IPv4 address`);
  const [head = '', tail = ''] = ip.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  const left = part(head);
  const right = ip.includes('::') ? part(tail) : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

/** The end of time for a certificate (RFC 5280: no well-defined expiration date); the probe pins the key, not a validity period. */
const NO_EXPIRY = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

/**
 * A self-signed X.509 v3 server certificate for `key` (an EC P-256 private key), signed with ECDSA
 * SHA-256: subject and issuer CN=names[0], the names as subjectAltName, not a CA, serverAuth only.
 */
export function selfSignedCertificate(key: KeyObject, names: readonly string[], now: Date): string {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('selfSignedCertificate: an EC P-256 private key is needed');
  if (names.length === 0) throw new Error('selfSignedCertificate: at least one name is needed');
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = commonName(names[0]!);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const san = seq(...names.map((n) => (isIP(n) !== 0 ? tlv(0x87, ipBytes(n)) : tlv(0x82, Buffer.from(n, 'ascii')))));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(time(new Date(now.getTime() - 3_600_000)), time(NO_EXPIRY)),
    name,
    createPublicKey(key).export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      seq(
        extension('2.5.29.19', true, seq()), // basicConstraints: not a CA
        extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x07, 0x80]))), // keyUsage: digitalSignature
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage: serverAuth
        extension('2.5.29.17', false, san), // subjectAltName
      ),
    ),
  );
  const signature = sign('sha256', tbs, { key, dsaEncoding: 'der' });
  const der = seq(tbs, ecdsaWithSha256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const base64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

// --- The files in <data_dir>/tls. ---

/** The name the certificate carries: this machine's host name when it is a DNS name, else ashyq-collector (the probe checks the key, not the name). */
export function autoTlsNames(host: string = hostname()): string[] {
  const name = host.trim().toLowerCase();
  const dns = name.length <= 253 && /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(name);
  return [dns ? name : 'ashyq-collector'];
}

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ConfigError(file, undefined, 'tls', `cannot read: ${(err as Error).message}`);
  }
}

/**
 * Write `content` at `file` unless it exists, atomically: a complete temporary file is linked into
 * place, so a process starting at the same moment sees the whole file or none. Returns what is at
 * `file` afterwards (the other process's when it won).
 */
async function createOnce(file: string, content: string, mode: number): Promise<Buffer> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content, { mode, flag: 'wx' });
  try {
    await chmod(tmp, mode);
    await link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return readFile(file);
}

/**
 * The certificate and key of `tls: auto` at the configured paths (<data_dir>/tls/cert.pem and
 * key.pem): made at first start (an EC P-256 key, mode 0600, and a self-signed certificate for
 * it), kept and reused after. A certificate that is missing is made again for the kept key, so the
 * pin stays; a certificate that does not belong to the key is an error, never replaced silently.
 */
export async function ensureAutoTls(files: { cert: string; key: string }, names: readonly string[] = autoTlsNames(), now: Date = new Date()): Promise<AutoTls> {
  for (const dir of new Set([path.dirname(files.key), path.dirname(files.cert)])) {
    await mkdir(path.dirname(dir), { recursive: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  let made: AutoTls['made'] = null;
  let keyPem = await readIfExists(files.key);
  if (keyPem === null) {
    const fresh = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    keyPem = await createOnce(files.key, fresh, 0o600);
    made = 'key and certificate';
  } else if (((await stat(files.key)).mode & 0o077) !== 0) {
    await chmod(files.key, 0o600);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new ConfigError(files.key, undefined, 'tls', `not a private key (${(err as Error).message}); with tls: auto the collector makes this file itself: move it away and start again (volunteers then need new invites: the pin changes)`);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError(files.key, undefined, 'tls', `a ${key.asymmetricKeyType ?? 'unknown'} key, not the EC P-256 key tls: auto makes; use tls: { cert, key } for a key of your own`);
  }
  let certPem = await readIfExists(files.cert);
  if (certPem === null) {
    certPem = await createOnce(files.cert, selfSignedCertificate(key, names, now), 0o644);
    made ??= 'certificate';
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw new ConfigError(files.cert, undefined, 'tls', `not a certificate (${(err as Error).message}); delete it and the collector makes a new one for the same key (the pin stays)`);
  }
  if (!cert.checkPrivateKey(key)) {
    throw new ConfigError(files.cert, undefined, 'tls', `does not belong to ${files.key}; delete the certificate and the collector makes a new one for the key (the pin stays)`);
  }
  return { cert: certPem, key: keyPem, pin: spkiSha256(cert), made };
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** One info line in the shape of the server's own (pino JSON), to its stream; nothing when logging is off or above info. */
function logInfo(log: ServerLog | false | undefined, msg: string, fields: Record<string, unknown>): void {
  if (log === false || (LEVELS[log?.level ?? 'info'] ?? 30) > 30) return;
  const line = { level: 30, time: Date.now(), pid: process.pid, hostname: hostname(), ...fields, msg };
  (log?.stream ?? process.stdout).write(`${JSON.stringify(line)}\n`);
}

/**
 * The certificate and key the HTTPS server is given, or null for plain HTTP. With `tls: auto` they
 * are made or reused first, and one line names the key's pin, which `ashyq-collector invite` carries.
 */
export async function serverTls(config: Pick<CollectorConfig, 'tls'>, log: ServerLog | false | undefined): Promise<TlsFiles | null> {
  const tls = config.tls;
  if (tls === null) return null;
  if (tls.auto !== true) return { cert: await readFile(tls.cert), key: await readFile(tls.key) };
  const auto = await ensureAutoTls(tls);
  const dir = path.dirname(tls.cert);
  const what = auto.made === null ? `the self-signed certificate kept in ${dir}` : `a self-signed ${auto.made} made now in ${dir}`;
  logInfo(log, `tls: auto: serving ${what}; key pin (pin_spki_sha256) ${auto.pin}, carried to volunteers by \`ashyq-collector invite\``, { pin_spki_sha256: auto.pin });
  return { cert: auto.cert, key: auto.key };
}
