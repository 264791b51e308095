// The software version of both programs, read from the package manifest (the probe records it in every measurement; both answer --version).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The names of ashyq's manifests: the repository's, and the probe's own package (scripts/package-probe.mjs). */
export const PACKAGE_NAMES: readonly string[] = ['ashyq', 'ashyq-probe'];

function findVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (typeof pkg.name === 'string' && PACKAGE_NAMES.includes(pkg.name) && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: look one directory up
    }
    dir = path.dirname(dir);
  }
  return '0.0.0';
}

export const version: string = findVersion();
