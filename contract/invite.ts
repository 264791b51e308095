// The invite a volunteer joins with: one copyable string carrying the collector's URL, its key pins and a single-use enrollment secret.
import { InvalidArgumentError } from '../common/errors.js';

/** What an invite carries. */
export interface Invite {
  /** The collector's base URL (https, or http to a loopback address). */
  url: string;
  /** SHA-256 of the collector's SubjectPublicKeyInfo, base64 (empty only for http). */
  pins: string[];
  /** The single-use enrollment secret (sent once, as the registration's enrollment token). */
  secret: string;
}

/** Every invite starts with this: the format's name and version. */
export const INVITE_PREFIX = 'ashyq1-';

/** At least 16 characters of base64url: what the collector generates is 32. */
const SECRET = /^[A-Za-z0-9_-]{16,128}$/;
const PIN = /^[A-Za-z0-9+/]{43}=$/;

export function encodeInvite(invite: Invite): string {
  const body = JSON.stringify({ u: invite.url, p: invite.pins, s: invite.secret });
  return `${INVITE_PREFIX}${Buffer.from(body, 'utf8').toString('base64url')}`;
}

/** The invite in `text` (spaces and line breaks from copying ignored); throws InvalidArgumentError saying what is wrong. */
export function decodeInvite(text: string): Invite {
  const compact = text.replace(/\s+/g, '');
  if (!compact.startsWith(INVITE_PREFIX)) throw new InvalidArgumentError(`not an ashyq invite: it must start with ${INVITE_PREFIX}`);
  const b64 = compact.slice(INVITE_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(b64)) throw new InvalidArgumentError('the invite is cut or altered: it holds characters an invite never has');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(b64, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidArgumentError('the invite is cut or altered: it does not decode (copy it whole)');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError('the invite is cut or altered: it does not decode (copy it whole)');
  const v = value as Record<string, unknown>;
  const url = v['u'];
  const pins = v['p'];
  const secret = v['s'];
  if (typeof url !== 'string' || !/^https?:\/\/[^\s/]+/.test(url)) throw new InvalidArgumentError('the invite has no collector URL');
  if (!Array.isArray(pins) || !pins.every((p): p is string => typeof p === 'string' && PIN.test(p))) throw new InvalidArgumentError('the invite has no valid key pins');
  if (url.startsWith('https://') && pins.length === 0) throw new InvalidArgumentError('the invite names an https collector without a key pin');
  if (typeof secret !== 'string' || !SECRET.test(secret)) throw new InvalidArgumentError('the invite has no valid enrollment secret');
  return { url, pins, secret };
}
