// The pin policy on its own: leaf pins, chain pins over a genuine path only, and the pin format.
import { X509Certificate } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkPins, parsePin, spkiSha256 } from '../probe/upload/pin.js';
import { makeLabPki, type LabPki } from './fakes/pki.js';

const HOST = 'collector.ashyq.test';
let pki: LabPki;
const x = (pem: string) => new X509Certificate(pem);

beforeAll(async () => {
  pki = await makeLabPki([HOST]);
});

describe('checkPins', () => {
  const now = () => Date.now();

  it('accepts a pinned leaf whatever its issuer, name or dates (the handshake proved the key)', () => {
    for (const cert of [pki.leaf.cert, pki.selfSigned.cert, pki.expired.cert, pki.wrongHost.cert]) {
      const r = checkPins([x(cert)], HOST, new Set([spkiSha256(cert)]), now());
      expect(r).toEqual({ ok: true, matched: 'leaf', spki: spkiSha256(cert) });
    }
  });

  it('accepts a pinned issuer when the path to it is genuine', () => {
    const r = checkPins([x(pki.leaf.cert), x(pki.root)], HOST, new Set([spkiSha256(pki.root)]), now());
    expect(r).toEqual({ ok: true, matched: 'chain', spki: spkiSha256(pki.root) });
    const deep = checkPins(
      [x(pki.qaznet.leaf.cert), x(pki.qaznet.intermediate), x(pki.qaznet.root)],
      HOST,
      new Set([spkiSha256(pki.qaznet.root)]),
      now(),
    );
    expect(deep.ok).toBe(true);
  });

  it('refuses a pinned certificate placed after a leaf it did not sign', () => {
    const r = checkPins([x(pki.selfSigned.cert), x(pki.root)], HOST, new Set([spkiSha256(pki.root)]), now());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/certificate #0 is not signed by certificate #1/);
  });

  it('refuses a genuine path to a leaf for another name, an expired leaf, or a time outside the validity', () => {
    const rootPin = new Set([spkiSha256(pki.root)]);
    const wrong = checkPins([x(pki.wrongHost.cert), x(pki.root)], HOST, rootPin, now());
    expect(wrong.ok === false && wrong.reason).toMatch(/not valid for collector\.ashyq\.test/);
    const expired = checkPins([x(pki.expired.cert), x(pki.root)], HOST, rootPin, now());
    expect(expired.ok === false && expired.reason).toMatch(/certificate #0 .* outside its validity period/);
    const early = checkPins([x(pki.leaf.cert), x(pki.root)], HOST, rootPin, Date.UTC(2001, 0, 1));
    expect(early.ok).toBe(false);
  });

  it('refuses a path through a non-CA certificate', () => {
    // The wrong-host leaf (CA:FALSE) cannot vouch for anything, even when pinned as an "issuer".
    const r = checkPins([x(pki.leaf.cert), x(pki.wrongHost.cert)], HOST, new Set([spkiSha256(pki.wrongHost.cert)]), now());
    expect(r.ok === false && r.reason).toMatch(/certificate #1 is not a CA/);
  });

  it('names the presented leaf when no pin matches at all', () => {
    const r = checkPins([x(pki.qaznet.leaf.cert), x(pki.qaznet.intermediate)], HOST, new Set([spkiSha256(pki.leaf.cert)]), now());
    expect(r.ok === false && r.reason).toMatch(/no pinned key in the presented chain \(leaf CN=collector\.ashyq\.test, issuer CN=Security Certificate/);
    expect(checkPins([], HOST, new Set([spkiSha256(pki.leaf.cert)]), now()).ok).toBe(false);
  });
});

describe('spkiSha256 and parsePin', () => {
  it('computes the same pin as the openssl command line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-pin-'));
    try {
      const file = path.join(dir, 'cert.pem');
      await import('node:fs/promises').then((fs) => fs.writeFile(file, pki.leaf.cert));
      const sh = `openssl x509 -in ${file} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`;
      const { stdout } = await promisify(execFile)('sh', ['-c', sh]);
      expect(spkiSha256(pki.leaf.cert)).toBe(stdout.trim());
      expect(spkiSha256(await readFile(file, 'utf8'))).toBe(stdout.trim());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('accepts base64 and sha256/base64, refuses anything that is not 32 bytes', () => {
    const pin = spkiSha256(pki.leaf.cert);
    expect(parsePin(pin)).toBe(pin);
    expect(parsePin(`sha256/${pin}`)).toBe(pin);
    expect(parsePin(` ${pin} `)).toBe(pin);
    expect(() => parsePin(pin.slice(0, 40))).toThrow(/not a base64 SHA-256 SPKI pin/);
    expect(() => parsePin('')).toThrow(/not a base64/);
    expect(() => parsePin(Buffer.alloc(31).toString('base64'))).toThrow(/not a base64/);
  });
});
