// The probe's identity: a random pseudonymous id and an Ed25519 key, made at first start and kept in the state directory.
//
// Files (both mode 0600, written to a temporary file, fsynced and renamed, so a power cut leaves
// either the old file or the new one, never half of one):
//   state_dir/key.pem        PKCS#8 PEM of the Ed25519 private key
//   state_dir/identity.json  { "version": 1, "probe_id": "...", "registered": false, "created_at": "..." }
// The id is 16 random bytes (base64url), never derived from hardware, host name or address.
// The key is written before identity.json. A key without identity.json (a crash in between) keeps
// the key and gets a fresh id; an identity.json without its key gets a fresh id and key, since the
// old id is registered with a key that no longer exists.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock } from '../common/clock.js';
import { replaceFile } from '../common/durable.js';
import { IdentityError } from './errors.js';
import { PROBE_ID_PATTERN } from '../contract/wire.js';

export interface Identity {
  probeId: string;
  privateKey: KeyObject;
  /** PEM SubjectPublicKeyInfo, as sent to the collector at registration. */
  publicKeyPem: string;
  /** The collector has confirmed the registration (persisted by markRegistered). */
  registered: boolean;
}

export const KEY_FILE = 'key.pem';
export const IDENTITY_FILE = 'identity.json';
const IDENTITY_VERSION = 1;

interface IdentityFile {
  version: typeof IDENTITY_VERSION;
  probe_id: string;
  registered: boolean;
  created_at: string;
}

function isMissing(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'ENOENT';
}

/** Write `data` to `file` durably (mode 0600): temporary file, fsync, rename, fsync of the directory. */
async function writeDurably(file: string, data: string): Promise<void> {
  const tempSuffix = `.${randomBytes(6).toString('hex')}.tmp`;
  await replaceFile(path.dirname(file), path.basename(file), Buffer.from(data, 'utf8'), { tempSuffix });
}

async function readIfPresent(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (isMissing(err)) return null;
    throw new IdentityError(file, `cannot read (${(err as Error).message})`, { cause: err });
  }
}

/** A private key file readable by others is tightened to 0600 (the key is the probe's signature). */
async function tighten(file: string): Promise<void> {
  const info = await stat(file);
  if ((info.mode & 0o077) !== 0) await chmod(file, 0o600);
}

function parseKey(file: string, pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new IdentityError(file, 'not a PEM private key; move it away to make a new identity', { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new IdentityError(file, `an ${String(key.asymmetricKeyType)} key, expected Ed25519; move it away to make a new identity`);
  }
  return key;
}

function parseIdentityFile(file: string, text: string): IdentityFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new IdentityError(file, 'not valid JSON; move it away to make a new identity', { cause: err });
  }
  const v = value as Partial<IdentityFile> | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new IdentityError(file, 'expected a JSON object');
  if (v.version !== IDENTITY_VERSION) throw new IdentityError(file, `unsupported version ${JSON.stringify(v.version)}`);
  if (typeof v.probe_id !== 'string' || !PROBE_ID_PATTERN.test(v.probe_id)) throw new IdentityError(file, 'probe_id: not a probe id');
  if (typeof v.registered !== 'boolean') throw new IdentityError(file, 'registered: expected true or false');
  if (typeof v.created_at !== 'string') throw new IdentityError(file, 'created_at: expected a time');
  return { version: IDENTITY_VERSION, probe_id: v.probe_id, registered: v.registered, created_at: v.created_at };
}

function publicPem(privateKey: KeyObject): string {
  return createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
}

/** A fresh random probe id: 16 random bytes, base64url (22 characters). */
export function newProbeId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * The probe's identity from `stateDir` (created with mode 0700 when missing); made on first start.
 * `deps.clock` stamps created_at. Throws IdentityError when the files exist but are unusable (never silently replaces a registered id).
 */
export async function loadOrCreateIdentity(stateDir: string, deps: { clock?: Clock } = {}): Promise<Identity> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(stateDir, KEY_FILE);
  const idFile = path.join(stateDir, IDENTITY_FILE);

  const keyPem = await readIfPresent(keyFile);
  const idText = await readIfPresent(idFile);
  let privateKey: KeyObject;
  if (keyPem === null) {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    await writeDurably(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  } else {
    privateKey = parseKey(keyFile, keyPem);
    await tighten(keyFile);
  }

  // An identity.json is only kept together with the key it was made with.
  if (keyPem !== null && idText !== null) {
    const saved = parseIdentityFile(idFile, idText);
    await tighten(idFile);
    return { probeId: saved.probe_id, privateKey, publicKeyPem: publicPem(privateKey), registered: saved.registered };
  }
  const fresh: IdentityFile = {
    version: IDENTITY_VERSION,
    probe_id: newProbeId(),
    registered: false,
    created_at: new Date((deps.clock ?? systemClock).now()).toISOString(),
  };
  await writeDurably(idFile, `${JSON.stringify(fresh, null, 2)}\n`);
  return { probeId: fresh.probe_id, privateKey, publicKeyPem: publicPem(privateKey), registered: false };
}

/** Persist that the collector accepted the registration; returns the identity with `registered: true`. */
export async function markRegistered(stateDir: string, identity: Identity): Promise<Identity> {
  const idFile = path.join(stateDir, IDENTITY_FILE);
  const text = await readIfPresent(idFile);
  if (text === null) throw new IdentityError(idFile, 'missing: the identity was not created in this directory');
  const saved = parseIdentityFile(idFile, text);
  if (saved.probe_id !== identity.probeId) {
    throw new IdentityError(idFile, `holds probe id ${saved.probe_id}, not ${identity.probeId}`);
  }
  if (!saved.registered) await writeDurably(idFile, `${JSON.stringify({ ...saved, registered: true }, null, 2)}\n`);
  identity.registered = true;
  return { ...identity, registered: true };
}
