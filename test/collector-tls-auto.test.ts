// tls: auto: the collector's self-signed certificate and key, made once in the data dir, reused with the same pin, presented on loopback, carried by invites.
import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import { autoTlsFiles } from '../collector/config.js';
import { autoTlsNames, ensureAutoTls, selfSignedCertificate } from '../collector/tls-auto.js';
import { ConfigError } from '../common/errors.js';
import { decodeInvite } from '../contract/invite.js';
import { checkPins, presentedChain, spkiSha256 } from '../probe/upload/pin.js';
import { startCollector, tempDir, type RunningCollector } from './fixtures/collector/helpers.js';

const dirs: string[] = [];
const running: RunningCollector[] = [];

afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const d = await tempDir('ashyq-tls-auto-');
  dirs.push(d);
  return d;
}

async function start(dir: string): Promise<RunningCollector> {
  const c = await startCollector({ dir, tls: autoTlsFiles(dir) });
  running.push(c);
  return c;
}

/** The pinned lines of a collector's log: the JSON lines whose message is the tls: auto one. */
function tlsLines(c: RunningCollector): Array<{ level: number; msg: string; pin_spki_sha256: string }> {
  return c.logs.map((l) => JSON.parse(l) as { level: number; msg: string; pin_spki_sha256: string }).filter((l) => l.msg.startsWith('tls: auto:'));
}

/** A TLS handshake with the collector on loopback, checked as a probe checks it: the leaf's key against the pin. */
function handshake(url: string, pin: string): Promise<{ leafPin: string; match: ReturnType<typeof checkPins> }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false }, () => {
      const chain = presentedChain(socket);
      socket.destroy();
      resolve({ leafPin: spkiSha256(chain[0]!), match: checkPins(chain, '127.0.0.1', new Set([pin]), Date.now()) });
    });
    socket.on('error', reject);
  });
}

describe('tls: auto', () => {
  it('makes a certificate and key at first start, logs the pin, presents that key on loopback; later starts reuse them with the same pin', async () => {
    const dir = await freshDir();
    const files = autoTlsFiles(dir);
    const first = await start(dir);
    expect(first.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(((await stat(files.key)).mode & 0o777).toString(8), 'the key is readable by its owner only').toBe('600');
    expect(((await stat(path.dirname(files.key))).mode & 0o777).toString(8)).toBe('700');
    const certPem = await readFile(files.cert, 'utf8');
    const keyPem = await readFile(files.key, 'utf8');
    const pin = spkiSha256(certPem);

    const [line, ...more] = tlsLines(first);
    expect(more).toEqual([]);
    expect(line?.level).toBe(30);
    expect(line?.pin_spki_sha256).toBe(pin);
    expect(line?.msg).toBe(`tls: auto: serving a self-signed key and certificate made now in ${path.join(dir, 'tls')}; key pin (pin_spki_sha256) ${pin}, carried to volunteers by \`ashyq-collector invite\``);

    const seen = await handshake(first.url, pin);
    expect(seen.leafPin).toBe(pin);
    expect(seen.match).toEqual({ ok: true, matched: 'leaf', spki: pin });
    await first.stop();
    running.splice(running.indexOf(first), 1);

    const second = await start(dir);
    expect(await readFile(files.key, 'utf8'), 'the key is kept').toBe(keyPem);
    expect(await readFile(files.cert, 'utf8'), 'the certificate is kept').toBe(certPem);
    expect(tlsLines(second).map((l) => [l.msg, l.pin_spki_sha256])).toEqual([
      [`tls: auto: serving the self-signed certificate kept in ${path.join(dir, 'tls')}; key pin (pin_spki_sha256) ${pin}, carried to volunteers by \`ashyq-collector invite\``, pin],
    ]);
    expect((await handshake(second.url, pin)).match.ok).toBe(true);
  });

  it('makes a missing certificate again for the kept key (the pin stays), and refuses one of another key', async () => {
    const dir = await freshDir();
    const files = autoTlsFiles(dir);
    const made = await ensureAutoTls(files);
    expect(made.made).toBe('key and certificate');
    await rm(files.cert);
    const again = await ensureAutoTls(files);
    expect(again.made).toBe('certificate');
    expect(again.pin).toBe(made.pin);
    expect(again.key.equals(made.key)).toBe(true);
    expect((await ensureAutoTls(files)).made).toBe(null);

    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    await writeFile(files.cert, selfSignedCertificate(other, ['elsewhere.example'], new Date()));
    const err = await ensureAutoTls(files).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`${files.cert}: tls: does not belong to ${files.key}; delete the certificate and the collector makes a new one for the key (the pin stays)`);
    expect(spkiSha256(selfSignedCertificate(createPrivateKey(await readFile(files.key)), ['x'], new Date())), 'the pin is the kept key\'s').toBe(made.pin);
  });

  it('two starts at the same moment end with one key', async () => {
    const dir = await freshDir();
    const files = autoTlsFiles(dir);
    const results = await Promise.all([ensureAutoTls(files), ensureAutoTls(files), ensureAutoTls(files)]);
    expect(new Set(results.map((r) => r.pin)).size).toBe(1);
    expect(spkiSha256(await readFile(files.cert))).toBe(results[0]!.pin);
  });

  it('makes a valid self-signed X.509 v3 server certificate for the names', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const pem = selfSignedCertificate(key, ['collector.example.org', '192.0.2.7', '2001:db8::1'], now);
    const x = new X509Certificate(pem);
    expect(x.subject).toBe('CN=collector.example.org');
    expect(x.issuer).toBe('CN=collector.example.org');
    expect(x.subjectAltName).toBe('DNS:collector.example.org, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:1');
    expect(x.ca).toBe(false);
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(x.verify(x.publicKey), 'signed by its own key').toBe(true);
    expect(x.checkPrivateKey(key)).toBe(true);
    expect(new Date(x.validFrom).toISOString()).toBe('2026-01-02T02:04:05.000Z');
    expect(new Date(x.validTo).toISOString()).toBe('9999-12-31T23:59:59.000Z');
    expect(x.checkHost('collector.example.org')).toBe('collector.example.org');
    // OpenSSL's own parser agrees, when the command is here (Debian: the openssl package).
    const openssl = spawnSync('openssl', ['x509', '-noout', '-text'], { input: pem, encoding: 'utf8' });
    if (openssl.error === undefined) {
      expect(openssl.status).toBe(0);
      expect(openssl.stdout).toContain('X509v3 Basic Constraints: critical');
      expect(openssl.stdout).toContain('Signature Algorithm: ecdsa-with-SHA256');
    }
    expect(autoTlsNames('Collector-1.example.org')).toEqual(['collector-1.example.org']);
    expect(autoTlsNames('not a host name!')).toEqual(['ashyq-collector']);
  });

  /** `ashyq-collector invite` with `tls: auto` on `dir`: the invite it prints, decoded. */
  async function inviteOf(dir: string) {
    const config = path.join(dir, 'cli.yaml');
    await writeFile(config, `data_dir: ${JSON.stringify(dir)}\ntls: auto\n`);
    let out = '';
    let err = '';
    const code = await main(['invite', '--config', config, '--url', 'https://collector.example.org:8480', '--json'], {
      stdout: { write: (s: string) => void (out += s) },
      stderr: { write: (s: string) => void (err += s) },
      env: {},
    });
    expect([code, err]).toEqual([0, '']);
    return decodeInvite((JSON.parse(out) as { invite: string }).invite);
  }

  it('ashyq-collector invite carries the pin of the certificate the collector made', async () => {
    const dir = await freshDir();
    const c = await start(dir);
    const pin = tlsLines(c)[0]!.pin_spki_sha256;
    const decoded = await inviteOf(dir);
    expect(decoded.pins).toEqual([pin]);
    expect(decoded.url).toBe('https://collector.example.org:8480');
  });

  it('an invite made before the first start makes the certificate the collector then serves (the same pin)', async () => {
    const dir = await freshDir();
    const pinned = (await inviteOf(dir)).pins;
    const c = await start(dir);
    expect([tlsLines(c)[0]!.pin_spki_sha256]).toEqual(pinned);
  });

  it("refuses to start with the example env file's placeholder token, in one line", async () => {
    const dir = await freshDir();
    const config = path.join(dir, 'collector.yaml');
    await writeFile(config, `data_dir: ${JSON.stringify(dir)}\ntls: auto\nlisten: { host: 127.0.0.1, port: 0 }\n`);
    let out = '';
    let err = '';
    const code = await main(['serve', '--config', config], {
      stdout: { write: (s: string) => void (out += s) },
      stderr: { write: (s: string) => void (err += s) },
      env: { ASHYQ_ENROLLMENT_TOKEN: 'replace-with-a-long-random-token' },
    });
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toBe(
      'ashyq-collector: (environment): ASHYQ_ENROLLMENT_TOKEN: still the placeholder of deploy/collector.env.example (replace-with-…): set ASHYQ_ENROLLMENT_TOKEN in deploy/collector.env to a long random value (e.g. from `openssl rand -base64 32`) and start again\n',
    );
    await expect(stat(path.join(dir, 'tls')), 'nothing was made').rejects.toThrow(/ENOENT/);
  });
});
