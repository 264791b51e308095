// Enrollment tokens: compared by SHA-256 in constant time; a token generated and kept in the data dir when none is set.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const TOKEN_FILE = 'enrollment-token';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class Enrollment {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    // Only digests are kept: equal lengths make timingSafeEqual applicable to any input.
    this.digests = tokens.map(digest);
  }

  /** Whether `token` is one of the configured tokens (every token is compared, in constant time). */
  accepts(token: string): boolean {
    const candidate = digest(token);
    let match = false;
    for (const d of this.digests) match = timingSafeEqual(candidate, d) || match;
    return match;
  }

  get size(): number {
    return this.digests.length;
  }
}

/** The token stored in `<dataDir>/enrollment-token`, creating it (mode 0600) on first start. */
export async function ensureEnrollmentToken(dataDir: string): Promise<{ token: string; file: string; generated: boolean }> {
  const file = path.join(dataDir, TOKEN_FILE);
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token !== '') return { token, file, generated: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600, flag: 'w' });
  return { token, file, generated: true };
}
