// The real `ashyq-probe` command (bin → dist) run as a child process, talking only to a fake resolver on loopback; its help per command and --version.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateMeasurement } from '../collector/ingest/validate.js';
import { parseTargets } from '../contract/target-list.js';
import type { Measurement } from '../contract/measurement.js';
import { startFakeDns, type FakeDnsServer } from './fakes/dns-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(root, 'bin/ashyq-probe.cjs');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const TARGETS = `version: 1
targets:
  - id: vk
    name: VK
    category: social
    domains: [vk.com]
    http: { path: /, status: [200] }
  - id: facebook
    name: Facebook
    category: social
    domains: [www.facebook.com]
`;
const CANARIES = `${TARGETS}  - id: wikipedia
    name: Wikipedia
    category: canary
    canary: international
    domains: [www.wikipedia.org]
`;

let dir: string;
let dns: FakeDnsServer;
let config: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ashyq-cli-'));
  // The only resolver the probe asks: NXDOMAIN for vk.com and the canary, a bogon for Facebook.
  dns = await startFakeDns((name) => (name === 'www.facebook.com' ? { kind: 'answer', addresses: ['10.10.34.36'] } : { kind: 'nxdomain' }));
  config = path.join(dir, 'probe.yaml');
  await writeFile(config, `measure:\n  timeout_ms: 1000\n  dns_listen_window_ms: 100\n  resolvers: ["udp:127.0.0.1:${dns.port}"]\n  qtypes: [A]\n`);
  await writeFile(path.join(dir, 'targets.yaml'), TARGETS);
  await writeFile(path.join(dir, 'with-canary.yaml'), CANARIES);
  await writeFile(path.join(dir, 'bad.yaml'), TARGETS.replace('ports', 'ports').replace('category: social\n    domains: [vk.com]', 'category: social\n    domain: [vk.com]'));
});
afterAll(async () => {
  await dns?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ashyq-probe run --once', () => {
  it('prints one measurement per target with --json, each one the collector accepts', async () => {
    const r = await run(['run', '--once', '--json', '--config', config, '--targets', path.join(dir, 'targets.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Measurement);
    expect(lines.map((m) => [m.target.id, m.verdict.verdict])).toEqual([
      ['vk', 'dns.nxdomain'],
      ['facebook', 'dns.bogon'],
    ]);
    expect(r.stderr).toMatch(/\[2\/2\] measured/);
    const targets = new Map(parseTargets(TARGETS, 'targets.yaml').map((t) => [t.id, t]));
    for (const m of lines) {
      const v = validateMeasurement(m, { now: Date.now(), maxAgeMs: 60_000, maxFutureMs: 60_000, targets, signer: m.probe.id });
      expect(v, JSON.stringify(v)).toMatchObject({ ok: true });
      expect(JSON.stringify(m)).not.toMatch(/"ip":"(?!10\.10\.34\.36)/); // no address but the services'
    }
    expect(dns.queries.length).toBeGreaterThanOrEqual(2);
  });

  it('prints a line per target with verdict and layer timings, and offline when the canary fails too', async () => {
    const r = await run(['run', '--once', '--config', config, '--targets', path.join(dir, 'with-canary.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^target\s+verdict\s+time per layer/);
    for (const id of ['vk', 'facebook', 'wikipedia']) {
      expect(rows.find((l) => l.startsWith(`${id} `))).toMatch(new RegExp(`^${id}\\s+offline\\s+dns\\s+\\S+\\s+tcp`));
    }
    expect(r.stderr).toMatch(/3 targets: 3 offline/);
  });

  it('rejects an invalid target file with its file, line and key, and exit status 2', async () => {
    const r = await run(['run', '--once', '--config', config, '--targets', path.join(dir, 'bad.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:6: targets\[0\]\.domain: unknown key "domain"/);
    expect(r.stdout).toBe('');
  });

  it('explains its usage', async () => {
    expect((await run(['--help'])).stdout).toMatch(/run --once/);
    expect((await run(['frobnicate'])).code).toBe(2);
  });
});

describe('ashyq-probe help and --version', () => {
  it('gives each command its own help (usage line, what it does, its options), exit 0; --help alone the global one', async () => {
    const global = await run(['--help']);
    expect(global.code).toBe(0);
    expect(global.stdout).toMatch(/^usage: ashyq-probe <command> \[options\]\n\ncommands:\n/);
    expect(global.stdout).toContain('`ashyq-probe <command> --help` shows');
    const OPTIONS: Record<string, string[]> = {
      run: ['--once', '--json', '--targets F', '--config F', '--help'],
      daemon: ['--config F', '--json', '--help'],
      setup: ['--config F', '--no', '--help'],
      uninstall: ['--config F', '--yes', '--help'],
      join: ['--config F', '--help'],
      status: ['--config F', '--json', '--help'],
    };
    for (const [command, options] of Object.entries(OPTIONS)) {
      const r = await run([command, '--help']);
      expect(r.code, command).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout.startsWith(`usage: ashyq-probe ${command}`), r.stdout).toBe(true);
      expect(r.stdout).not.toBe(global.stdout);
      const listed = [...r.stdout.matchAll(/^ {2}(--\w+(?: \w+)?)/gm)].map((m) => m[1]);
      expect(listed, command).toEqual(options);
      expect(r.stdout).toMatch(/\nexit status: /);
      for (const line of r.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
      expect((await run(['help', command])).stdout).toBe(r.stdout);
    }
    // join needs its INVITE and --config, but its help needs neither.
    expect((await run(['join', '-h'])).stdout).toMatch(/^usage: ashyq-probe join INVITE --config F\n/);
    const unknown = await run(['frobnicate', '--help']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^ashyq-probe: unknown command "frobnicate"\n\nusage: ashyq-probe <command>/);
  });

  it('answers --version with the version of package.json', async () => {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
    for (const argv of [['--version'], ['daemon', '--version']]) {
      const r = await run(argv);
      expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    }
  });

  it('refuses unknown options and missing values in its own words, followed by the command`s help', async () => {
    const a = await run(['status', '--frobnicate']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/^ashyq-probe: unknown option --frobnicate\n\nusage: ashyq-probe status /);
    const b = await run(['--frobnicate']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^ashyq-probe: unknown option --frobnicate\n\nusage: ashyq-probe <command>/);
    const c = await run(['run', '--once', '--config']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/^ashyq-probe: --config needs a value\n\nusage: ashyq-probe run --once/);
    // Options of other commands are still refused.
    const d = await run(['daemon', '--once']);
    expect(d.code).toBe(2);
    expect(d.stderr).toBe('ashyq-probe: daemon takes --config and --json only\n');
  });
});
