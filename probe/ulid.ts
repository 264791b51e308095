// ULIDs: globally unique ids that sort by creation time, used for measurement ids.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const ULID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** A ULID for time `ms` (epoch milliseconds); `random` supplies the 10 random bytes. */
export function ulid(ms: number, random: (n: number) => Uint8Array = randomBytes): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > 2 ** 48 - 1) throw new RangeError(`ulid: bad time ${ms}`);
  let time = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const bytes = random(10);
  // 80 bits → 16 base-32 characters, 5 bits at a time.
  let bits = 0;
  let value = 0;
  let rand = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      rand += ALPHABET[(value >>> (bits - 5)) & 31]!;
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return time + rand;
}
