// The probe identity on disk: made once (random id, Ed25519 key, mode 0600), reloaded unchanged, registration persisted.
import { createPublicKey, sign, verify } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdentityError } from '../probe/errors.js';
import { loadOrCreateIdentity, markRegistered } from '../probe/identity.js';
import { PROBE_ID_PATTERN } from '../contract/wire.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'ashyq-identity-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (file: string) => (await stat(file)).mode & 0o777;

describe('loadOrCreateIdentity', () => {
  it('creates a random id and an Ed25519 key with private modes at first start, and reloads them unchanged', async () => {
    const dir = path.join(root, 'state', 'nested');
    const clock = { now: () => Date.UTC(2024, 4, 9, 7, 0, 0), monotonic: () => 0 };
    const first = await loadOrCreateIdentity(dir, { clock });
    expect(first.probeId).toMatch(PROBE_ID_PATTERN);
    expect(first.probeId).toHaveLength(22);
    expect(first.registered).toBe(false);
    expect(first.privateKey.asymmetricKeyType).toBe('ed25519');
    expect(createPublicKey(first.publicKeyPem).asymmetricKeyType).toBe('ed25519');
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(path.join(dir, 'key.pem'))).toBe(0o600);
    expect(await mode(path.join(dir, 'identity.json'))).toBe(0o600);
    expect(JSON.parse(await readFile(path.join(dir, 'identity.json'), 'utf8'))).toEqual({
      version: 1,
      probe_id: first.probeId,
      registered: false,
      created_at: '2024-05-09T07:00:00.000Z',
    });
    // No temporary file is left behind.
    expect((await readdir(dir)).sort()).toEqual(['identity.json', 'key.pem']);

    const again = await loadOrCreateIdentity(dir);
    expect(again.probeId).toBe(first.probeId);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
    const signature = sign(null, Buffer.from('batch'), again.privateKey);
    expect(verify(null, Buffer.from('batch'), first.publicKeyPem, signature)).toBe(true);
  });

  it('gives every probe its own id and key', async () => {
    const a = await loadOrCreateIdentity(path.join(root, 'a'));
    const b = await loadOrCreateIdentity(path.join(root, 'b'));
    expect(a.probeId).not.toBe(b.probeId);
    expect(a.publicKeyPem).not.toBe(b.publicKeyPem);
  });

  it('persists the registration', async () => {
    const dir = path.join(root, 's');
    const id = await loadOrCreateIdentity(dir);
    const marked = await markRegistered(dir, id);
    expect(marked.registered).toBe(true);
    expect(id.registered).toBe(true);
    expect((await loadOrCreateIdentity(dir)).registered).toBe(true);
    expect(await mode(path.join(dir, 'identity.json'))).toBe(0o600);
    // Marking again changes nothing.
    const before = await readFile(path.join(dir, 'identity.json'), 'utf8');
    await markRegistered(dir, marked);
    expect(await readFile(path.join(dir, 'identity.json'), 'utf8')).toBe(before);
  });

  it('refuses to mark another identity as registered', async () => {
    const dir = path.join(root, 's');
    const id = await loadOrCreateIdentity(dir);
    await expect(markRegistered(dir, { ...id, probeId: 'someone-else-entirely' })).rejects.toThrow(IdentityError);
    await expect(markRegistered(path.join(root, 'nowhere'), id)).rejects.toThrow(/missing/);
  });

  it('keeps a key without identity.json (a crash in between) and gives it a fresh id', async () => {
    const dir = path.join(root, 's');
    const first = await loadOrCreateIdentity(dir);
    await rm(path.join(dir, 'identity.json'));
    const second = await loadOrCreateIdentity(dir);
    expect(second.publicKeyPem).toBe(first.publicKeyPem);
    expect(second.probeId).not.toBe(first.probeId);
    expect(second.registered).toBe(false);
  });

  it('never reuses an id whose key is lost (it is registered with that key)', async () => {
    const dir = path.join(root, 's');
    const first = await markRegistered(dir, await loadOrCreateIdentity(dir));
    await rm(path.join(dir, 'key.pem'));
    const second = await loadOrCreateIdentity(dir);
    expect(second.probeId).not.toBe(first.probeId);
    expect(second.publicKeyPem).not.toBe(first.publicKeyPem);
    expect(second.registered).toBe(false);
  });

  it('tightens a key file readable by others to 0600', async () => {
    const dir = path.join(root, 's');
    await loadOrCreateIdentity(dir);
    await chmod(path.join(dir, 'key.pem'), 0o644);
    await loadOrCreateIdentity(dir);
    expect(await mode(path.join(dir, 'key.pem'))).toBe(0o600);
  });

  it('refuses unusable files with the file named, instead of silently replacing a registered identity', async () => {
    const dir = path.join(root, 's');
    await loadOrCreateIdentity(dir);
    const idFile = path.join(dir, 'identity.json');
    const keyFile = path.join(dir, 'key.pem');
    const good = await readFile(idFile, 'utf8');

    await writeFile(idFile, '{"version":1,"probe_id":');
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(/identity\.json: not valid JSON/);
    await writeFile(idFile, JSON.stringify({ version: 1, probe_id: 'a b', registered: false, created_at: 'x' }));
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(/probe_id: not a probe id/);
    await writeFile(idFile, good);

    await writeFile(keyFile, 'not a key');
    const err = await loadOrCreateIdentity(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityError);
    expect((err as IdentityError).code).toBe('ASHYQ_ERR_IDENTITY');
    expect((err as IdentityError).file).toBe(keyFile);
    const { generateKeyPairSync } = await import('node:crypto');
    await writeFile(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await expect(loadOrCreateIdentity(dir)).rejects.toThrow(/expected Ed25519/);
  });
});
