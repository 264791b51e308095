// The dependency direction of the layout: contract and common stand alone, the probe never imports the collector, the collector only the probe's engine and classifier.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(rel));
    else if (entry.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Every relative import of the files under `dir`, as [importing file, imported file] (repository paths). */
function imports(dir: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const file of sources(dir)) {
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      out.push([file, path.normalize(path.join(path.dirname(file), spec))]);
    }
  }
  return out;
}

const top = (file: string) => file.split(path.sep)[0]!;

describe('layout', () => {
  it('finds the imports it checks', () => {
    expect(imports('collector').length).toBeGreaterThan(100);
    expect(imports('probe').length).toBeGreaterThan(100);
  });

  it('keeps the contract and the shared helpers free of both programs', () => {
    const bad = [...imports('contract'), ...imports('common')].filter(([, to]) => !['contract', 'common'].includes(top(to)));
    expect(bad).toEqual([]);
    expect(imports('common').filter(([, to]) => top(to) === 'contract')).toEqual([]);
  });

  it('never lets the probe import the collector', () => {
    expect(imports('probe').filter(([, to]) => top(to) === 'collector')).toEqual([]);
  });

  it('lets the collector import only the probe engine and classifier of the probe', () => {
    const allowed = [path.join('probe', 'engine') + path.sep, path.join('probe', 'classify') + path.sep];
    const bad = imports('collector').filter(([, to]) => top(to) === 'probe' && !allowed.some((a) => to.startsWith(a)));
    expect(bad).toEqual([]);
  });
});
