// scripts/package-probe.mjs: the probe's tarball runs with only its bundled node_modules and installs with no registry, the .deb has the command, the unit and the maintainer scripts; gated, a real apt-get install, remove and purge.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = path.join(ROOT, 'scripts', 'package-probe.mjs');
const rootPkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
const VERSION = rootPkg.version;
const TOP = `ashyq-probe-${VERSION}`;
const RUNTIME_DEPS = ['undici', 'p-queue', 'dns-packet', 'yaml'];
/** What the collector or the tooling needs, never the probe. */
const NOT_THE_PROBES = ['better-sqlite3', 'fastify', '@influxdata', '@ip-location-db', 'playwright-core', 'vega', 'vega-lite', 'uplot', 'typescript', 'vitest', 'tsx', 'esbuild'];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const dirs: string[] = [];

const has = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
const hasDpkgDeb = has('dpkg-deb');
if (!hasDpkgDeb) console.warn('SKIPPING the packaging tests: dpkg-deb not found (the .deb is built on Debian or Ubuntu, package dpkg)');

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function sh(command: string, args: string[], options: SpawnSyncOptions = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error !== undefined) throw new Error(`${command} could not be run: ${r.error.message}`);
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Run and expect exit 0; the output is in the failure's message. */
function ok(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = sh(command, args, options);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** An environment with nothing that could find modules outside the package: no NODE_PATH, a fresh HOME. */
function bareEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, NODE_PATH: '', LC_ALL: 'C' };
}

describe.skipIf(!hasDpkgDeb)('scripts/package-probe.mjs: the artefacts', () => {
  let out = '';
  let tarball = '';
  let deb = '';
  let printed = '';
  let tarList: string[] = [];

  beforeAll(() => {
    // The test runner (npm test) builds dist/ first; run alone, build it when it is missing.
    if (!existsSync(path.join(ROOT, 'dist', 'probe', 'cli', 'main.js'))) ok(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT });
    out = tempDir('ashyq-package-');
    chmodSync(out, 0o755); // readable by apt's _apt user, for the system install below
    printed = ok(process.execPath, [SCRIPT, '--out', out], { cwd: ROOT });
    tarball = path.join(out, `${TOP}.tar.gz`);
    deb = path.join(out, `ashyq-probe_${VERSION.replace('-', '~')}_all.deb`);
    tarList = ok('tar', ['-tzf', tarball]).split('\n').filter((l) => l !== '');
  }, 180_000);

  it('prints where the tarball and the .deb are, with their sizes', () => {
    for (const file of [tarball, deb]) {
      expect(existsSync(file), file).toBe(true);
      expect(printed).toContain(`${file}  `);
      expect(printed).toContain(`(${statSync(file).size} bytes)`);
    }
  });

  it('puts the probe alone in the tarball: its code, bin, target list, unit, manifest and runtime dependencies', () => {
    expect(tarList.every((f) => f === `${TOP}/` || f.startsWith(`${TOP}/`))).toBe(true);
    const files = tarList.map((f) => f.slice(TOP.length + 1));
    for (const f of ['package.json', 'bin/ashyq-probe.cjs', 'targets.yaml', 'deploy/ashyq-probe.service', 'dist/probe/cli/main.js', 'dist/probe/engine/v8-flags.js', 'dist/contract/target-list.js', 'dist/common/version.js']) {
      expect(files, f).toContain(f);
    }
    for (const dep of RUNTIME_DEPS) expect(files).toContain(`node_modules/${dep}/package.json`);
    // No collector code, nothing but built JavaScript under dist/.
    expect(files.filter((f) => f.startsWith('dist/collector'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/') && !f.endsWith('/') && !f.endsWith('.js'))).toEqual([]);
    expect(files.filter((f) => /^(probe|collector|contract|common|test)\//.test(f))).toEqual([]);
    // No collector or development dependency, no native addon.
    for (const name of NOT_THE_PROBES) expect(files.filter((f) => f.startsWith(`node_modules/${name}/`)), name).toEqual([]);
    expect(files.filter((f) => f.endsWith('.node') || f.endsWith('/binding.gyp'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('node_modules/.bin/'))).toEqual([]);
  });

  it('gives the tarball its own package.json: ashyq-probe, the root version, only the runtime dependencies, bundled', () => {
    const manifest = JSON.parse(ok('tar', ['-xzOf', tarball, `${TOP}/package.json`])) as Record<string, unknown>;
    expect(manifest).toMatchObject({ name: 'ashyq-probe', version: VERSION, type: 'module', engines: { node: '>=20.19' }, bin: { 'ashyq-probe': 'bin/ashyq-probe.cjs' } });
    expect(manifest['dependencies']).toEqual(Object.fromEntries(RUNTIME_DEPS.map((d) => [d, rootPkg.dependencies[d]])));
    expect(manifest['bundleDependencies']).toEqual(RUNTIME_DEPS);
    expect(manifest['devDependencies']).toBeUndefined();
  });

  it('sets the modes and owner in the tarball: root, files 0644, the bin 0755', () => {
    const lines = ok('tar', ['-tvzf', tarball]).split('\n').filter((l) => l !== '');
    for (const l of lines) expect(l, l).toMatch(/^[-dl]\S+ 0\/0 /);
    const bin = lines.filter((l) => l.endsWith(`${TOP}/bin/ashyq-probe.cjs`));
    expect(bin[0]).toMatch(/^-rwxr-xr-x /);
    const others = lines.filter((l) => l.startsWith('-') && !l.endsWith('/bin/ashyq-probe.cjs'));
    expect(others.filter((l) => !l.startsWith('-rw-r--r-- '))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('d') && !l.startsWith('drwxr-xr-x '))).toEqual([]);
  });

  it('runs from the unpacked tarball with only its bundled node_modules (no NODE_PATH)', () => {
    const dir = tempDir('ashyq-unpacked-');
    ok('tar', ['-xzf', tarball, '-C', dir]);
    const pkg = path.join(dir, TOP);
    const env = bareEnv(dir);
    const version = ok(process.execPath, [path.join(pkg, 'bin', 'ashyq-probe.cjs'), '--version'], { cwd: pkg, env });
    expect(version.trim()).toBe(VERSION);
    const help = ok(process.execPath, [path.join(pkg, 'bin', 'ashyq-probe.cjs'), 'run', '--help'], { cwd: pkg, env });
    expect(help).toContain('usage: ashyq-probe run --once');
    // Every dependency loads from inside the package, undici's lazily required parts too, and the
    // packaged target list is the one beside the package's own package.json.
    const check = path.join(pkg, 'check-imports.mjs');
    writeFileSync(
      check,
      `${RUNTIME_DEPS.map((d) => `await import(${JSON.stringify(d)});`).join('\n')}
const u = await import('./dist/probe/measure/undici.js');
u.loadHttpClient();
u.loadDoh();
const t = await import('./dist/contract/target-list.js');
const targets = await t.loadTargets(t.packagedTargetsPath());
process.stdout.write(JSON.stringify({ file: t.packagedTargetsPath(), count: targets.length }));
`,
    );
    const loaded = JSON.parse(ok(process.execPath, [check], { cwd: pkg, env })) as { file: string; count: number };
    expect(loaded.file).toBe(path.join(pkg, 'targets.yaml'));
    expect(loaded.count).toBeGreaterThan(0);
  });

  it('installs from the tarball with npm and no registry (--offline, an empty cache, the registry a closed loopback port)', ({ skip }) => {
    if (!has('npm')) return skip('npm not found');
    const dir = tempDir('ashyq-npm-offline-');
    // No npmrc of this machine's (a mirror, a proxy): two empty ones.
    for (const f of ['user-npmrc', 'global-npmrc']) writeFileSync(path.join(dir, f), '');
    const env = { ...bareEnv(dir), npm_config_userconfig: path.join(dir, 'user-npmrc'), npm_config_globalconfig: path.join(dir, 'global-npmrc') };
    const prefix = path.join(dir, 'prefix');
    const args = ['install', '--global', '--prefix', prefix, '--offline', '--cache', path.join(dir, 'cache'), '--registry', 'http://127.0.0.1:9/', '--no-audit', '--no-fund', tarball];
    ok('npm', args, { cwd: dir, env });
    const bin = path.join(prefix, 'bin', 'ashyq-probe');
    expect(ok(bin, ['--version'], { cwd: dir, env }).trim()).toBe(VERSION);
    const installed = path.join(prefix, 'lib', 'node_modules', 'ashyq-probe', 'node_modules');
    for (const d of RUNTIME_DEPS) expect(existsSync(path.join(installed, d, 'package.json')), d).toBe(true);
  });

  it('writes a .deb whose control names the package, version, architecture, nodejs dependency, maintainer and description', () => {
    const info = ok('dpkg-deb', ['-I', deb]);
    for (const s of ['postinst', 'prerm', 'postrm', 'control']) expect(info).toContain(s);
    const field = (name: string) => ok('dpkg-deb', ['-f', deb, name]).trim();
    expect(field('Package')).toBe('ashyq-probe');
    expect(field('Version')).toBe(VERSION.replace('-', '~'));
    expect(field('Architecture')).toBe('all');
    expect(field('Depends').split(/,\s*/)).toContain('nodejs (>= 20.19)');
    expect(field('Maintainer')).toMatch(/^.+ <[^>]+>$/);
    expect(field('Description')).toMatch(/^ashyq internet censorship measurement probe\n .+/);
    expect(Number(field('Installed-Size'))).toBeGreaterThan(100);
  });

  it('installs the code under /usr/lib/ashyq-probe, the command as a symlink in /usr/bin and the unit, root-owned, with the right modes', () => {
    const lines = ok('dpkg-deb', ['-c', deb]).split('\n').filter((l) => l !== '');
    for (const l of lines) expect(l, l).toMatch(/^[-dl]\S+ root\/root /);
    const names = lines.map((l) => l.replace(/^.*? \.\//, './'));
    expect(names).toContain('./usr/bin/ashyq-probe -> ../lib/ashyq-probe/bin/ashyq-probe.cjs');
    expect(names).toContain('./lib/systemd/system/ashyq-probe.service');
    for (const f of ['package.json', 'targets.yaml', 'dist/probe/cli/main.js', 'node_modules/undici/package.json']) expect(names).toContain(`./usr/lib/ashyq-probe/${f}`);
    // The unit is installed once, where systemd reads it: not a second copy with /usr/local/bin.
    expect(names.filter((n) => n.includes('/deploy/'))).toEqual([]);
    expect(names.filter((n) => n.includes('dist/collector') || NOT_THE_PROBES.some((p) => n.includes(`/node_modules/${p}/`)))).toEqual([]);
    expect(lines.find((l) => l.endsWith('/bin/ashyq-probe.cjs'))).toMatch(/^-rwxr-xr-x /);
    expect(lines.filter((l) => l.startsWith('-') && !l.endsWith('/bin/ashyq-probe.cjs') && !l.startsWith('-rw-r--r-- '))).toEqual([]);
  });

  it('generates the packaged unit from deploy/ashyq-probe.service with ExecStart at /usr/bin/ashyq-probe', () => {
    const unit = ok('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -xO ./lib/systemd/system/ashyq-probe.service', 'sh', deb]);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/ashyq-probe daemon --config \/etc\/ashyq\/probe\.yaml$/m);
    expect(unit).not.toContain('/usr/local/bin');
    const repo = readFileSync(path.join(ROOT, 'deploy', 'ashyq-probe.service'), 'utf8');
    const withoutNote = unit.split('\n').filter((l) => !l.startsWith('# Installed by the ashyq-probe Debian package')).join('\n');
    expect(withoutNote).toBe(repo.replaceAll('/usr/local/bin/ashyq-probe', '/usr/bin/ashyq-probe'));
  });

  it('ships deploy/debian/ as the maintainer scripts, executable, valid sh', () => {
    const control = tempDir('ashyq-deb-control-');
    ok('dpkg-deb', ['-e', deb, path.join(control, 'DEBIAN')]);
    for (const s of ['postinst', 'prerm', 'postrm']) {
      const file = path.join(control, 'DEBIAN', s);
      expect(readFileSync(file, 'utf8')).toBe(readFileSync(path.join(ROOT, 'deploy', 'debian', s), 'utf8'));
      expect(statSync(file).mode & 0o777, s).toBe(0o755);
      ok('sh', ['-n', file]);
    }
    const postinst = readFileSync(path.join(control, 'DEBIAN', 'postinst'), 'utf8');
    expect(postinst).toContain('sudo ashyq-probe setup <invite>');
    expect(postinst).toContain('[ -d /run/systemd/system ]');
  });
});

/** A copy of the script in a made-up repository, to see it refuse what it must refuse. */
function fakeRepo(overrides: Record<string, string | null>): string {
  const dir = tempDir('ashyq-package-fake-');
  const pkg = (name: string, deps: Record<string, string> = {}) => JSON.stringify({ name, version: '1.0.0', dependencies: deps });
  const files: Record<string, string | null> = {
    'package.json': JSON.stringify({ name: 'ashyq', version: '1.2.3', dependencies: Object.fromEntries(RUNTIME_DEPS.map((d) => [d, '^1.0.0'])) }),
    'bin/ashyq-probe.cjs': "(async () => { await import('../dist/probe/cli/main.js'); })();\n",
    'probe/cli/main.ts': '',
    'dist/probe/cli/main.js': "import { parse } from 'yaml';\nexport const main = parse;\n",
    'dist/contract/target.js': '',
    'dist/common/errors.js': '',
    'targets.yaml': 'version: 1\ntargets: []\n',
    'deploy/ashyq-probe.service': '[Service]\nExecStart=/usr/local/bin/ashyq-probe daemon\n',
    ...Object.fromEntries(RUNTIME_DEPS.map((d) => [`node_modules/${d}/package.json`, pkg(d)])),
    ...overrides,
  };
  for (const [file, text] of Object.entries(files)) {
    if (text === null) continue;
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  mkdirSync(path.join(dir, 'scripts'), { recursive: true });
  copyFileSync(SCRIPT, path.join(dir, 'scripts', 'package-probe.mjs'));
  return dir;
}

function packageFake(dir: string) {
  return sh(process.execPath, [path.join(dir, 'scripts', 'package-probe.mjs'), '--out', path.join(dir, 'release')], { cwd: dir });
}

describe('scripts/package-probe.mjs: what it refuses', () => {
  it('fails clearly when dist/ was not built', () => {
    const r = packageFake(fakeRepo({ 'dist/probe/cli/main.js': null, 'dist/contract/target.js': null, 'dist/common/errors.js': null }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('package-probe: dist/probe/ not found: build first (`npm run build`');
  });

  it('fails when the probe imports the collector', () => {
    const r = packageFake(fakeRepo({ 'dist/probe/cli/main.js': "import { x } from '../../collector/app.js';\nexport const main = x;\n", 'dist/collector/app.js': 'export const x = 1;\n' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("dist/collector/app.js (imported by dist/probe/cli/main.js): the probe must not import the collector's code");
  });

  it('fails when the probe imports a package that is not one of its runtime dependencies', () => {
    const r = packageFake(fakeRepo({ 'dist/probe/cli/main.js': "const Database = (await import('better-sqlite3')).default;\nexport const main = Database;\n" }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('dist/probe/cli/main.js imports "better-sqlite3", which is not one of the probe\'s runtime dependencies');
  });

  it('fails when a dependency has a native addon', () => {
    const r = packageFake(fakeRepo({ 'node_modules/yaml/binding.gyp': '{}', 'node_modules/yaml/build/Release/yaml.node': 'ELF' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/yaml@1\.0\.0 \(.*\) is not pure JavaScript/);
    expect(r.stderr).toContain("binding.gyp: a native addon's build file");
    expect(r.stderr).toContain('build/Release/yaml.node: a native addon');
  });

  it('fails when a transitive dependency is missing from node_modules', () => {
    const r = packageFake(fakeRepo({ 'node_modules/dns-packet/package.json': JSON.stringify({ name: 'dns-packet', version: '1.0.0', dependencies: { 'ip-codec-gone': '^2' } }) }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ip-codec-gone (needed by dns-packet@1.0.0) is not in node_modules: run `npm ci` first');
  });
});

// ---- the real thing: apt-get install, remove, purge (root, and only when asked: it changes the machine) ----

/** The version of the Debian package nodejs, when dpkg knows one (Node installed another way is not a package apt can count on). */
const nodejsPackage = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'nodejs'], { encoding: 'utf8' });
const nodejsVersion = nodejsPackage.status === 0 ? String(nodejsPackage.stdout).trim() : '';
const nodejsOk = nodejsVersion !== '' && spawnSync('dpkg', ['--compare-versions', nodejsVersion, 'ge', '20.19'], { encoding: 'utf8' }).status === 0;
const SYSTEM = isRoot && process.env['ASHYQ_TEST_SYSTEM_INSTALL'] === '1' && nodejsOk;
const systemWhy = !isRoot
  ? 'not root (it runs apt-get install and purge of the .deb)'
  : process.env['ASHYQ_TEST_SYSTEM_INSTALL'] !== '1'
    ? 'ASHYQ_TEST_SYSTEM_INSTALL is not 1 (set it, as root on a disposable machine, to install and purge the .deb for real; CI sets it)'
    : `the .deb depends on the Debian package nodejs (>= 20.19), and dpkg has ${nodejsVersion === '' ? 'no nodejs package (Node.js was installed another way)' : `nodejs ${nodejsVersion}`}: apt-get could not install it here without the network`;
if (!SYSTEM) console.warn(`SKIPPING the system install of the probe's .deb: ${systemWhy}`);

const aptEnv = (): NodeJS.ProcessEnv => ({ ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' });
const dpkgStatus = (): string => sh('dpkg-query', ['-W', '-f=${Status}', 'ashyq-probe']).stdout.trim();
const userExists = (name: string) => sh('getent', ['passwd', name]).code === 0;
const groupExists = (name: string) => sh('getent', ['group', name]).code === 0;
const SYSTEM_PATHS = ['/usr/bin/ashyq-probe', '/usr/lib/ashyq-probe', '/lib/systemd/system/ashyq-probe.service'];

describe('the .deb on this system (apt-get install, remove, purge)', () => {
  it(
    'installs the command, the unit, the user ashyq, /etc/ashyq and /var/lib/ashyq; remove keeps the config and state; purge removes them all',
    ({ skip }) => {
      if (!SYSTEM) return skip(systemWhy);
      // Never over a real probe: the purge deletes its identity and its spool.
      const before = [
        ...(dpkgStatus() !== '' && !dpkgStatus().includes('not-installed') ? [`the package ashyq-probe is known to dpkg (${dpkgStatus()})`] : []),
        ...(userExists('ashyq') ? ['a user ashyq exists'] : []),
        ...(groupExists('ashyq') ? ['a group ashyq exists'] : []),
        ...['/etc/ashyq', '/var/lib/ashyq', ...SYSTEM_PATHS].filter((p) => existsSync(p)).map((p) => `${p} exists`),
      ];
      if (before.length > 0) throw new Error(`refusing to install and purge ashyq-probe here: ${before.join('; ')} (the purge would delete a probe's identity and spool)`);

      const dir = tempDir('ashyq-system-');
      chmodSync(dir, 0o755);
      const out = ok(process.execPath, [SCRIPT, '--out', dir], { cwd: ROOT });
      const deb = path.join(dir, `ashyq-probe_${VERSION.replace('-', '~')}_all.deb`);
      expect(out).toContain(deb);
      try {
        // nodejs is installed: apt needs nothing from the network, and any download it tried would go
        // to a closed port on loopback (apt's --no-download refuses a local .deb).
        const offline = ['-o', 'Acquire::http::Proxy=http://127.0.0.1:9/', '-o', 'Acquire::https::Proxy=http://127.0.0.1:9/'];
        const installed = ok('apt-get', [...offline, 'install', '-y', '--no-install-recommends', deb], { env: aptEnv() });
        expect(installed).toContain('sudo ashyq-probe setup <invite>');
        expect(dpkgStatus()).toBe('install ok installed');

        expect(ok('/usr/bin/ashyq-probe', ['--version']).trim()).toBe(VERSION);
        expect(ok('/usr/bin/ashyq-probe', ['run', '--help'])).toContain('usage: ashyq-probe run --once');
        expect(realpathSync('/usr/bin/ashyq-probe')).toBe('/usr/lib/ashyq-probe/bin/ashyq-probe.cjs');
        const targets = ok(process.execPath, ['--input-type=module', '-e', "const t = await import('/usr/lib/ashyq-probe/dist/contract/target-list.js'); process.stdout.write(t.packagedTargetsPath());"]);
        expect(targets).toBe('/usr/lib/ashyq-probe/targets.yaml');

        ok('id', ['ashyq']);
        const [, , uid, gid, , home, shell] = ok('getent', ['passwd', 'ashyq']).trim().split(':');
        expect(home).toBe('/var/lib/ashyq');
        expect(shell).toBe('/usr/sbin/nologin');
        expect(Number(uid)).toBeLessThan(1000); // a system user
        expect(ok('getent', ['group', 'ashyq']).split(':')[2]).toBe(gid);
        const etc = statSync('/etc/ashyq');
        expect([etc.isDirectory(), etc.mode & 0o777, etc.uid]).toEqual([true, 0o755, 0]);
        const state = statSync('/var/lib/ashyq');
        expect([state.isDirectory(), state.mode & 0o777, state.uid, state.gid]).toEqual([true, 0o700, Number(uid), Number(gid)]);
        const unit = readFileSync('/lib/systemd/system/ashyq-probe.service', 'utf8');
        expect(unit).toMatch(/^ExecStart=\/usr\/bin\/ashyq-probe daemon /m);
        expect(unit).toMatch(/^User=ashyq$/m);

        // Installed again (an upgrade's path through postinst): the existing user and directories are fine.
        ok('dpkg', ['-i', deb], { env: aptEnv() });

        // Remove: the program goes; the config, the state and the user stay (as for any Debian package).
        writeFileSync('/etc/ashyq/probe.yaml', 'state_dir: /var/lib/ashyq\n');
        writeFileSync('/var/lib/ashyq/identity.json', '{}\n');
        ok('apt-get', [...offline, 'remove', '-y', 'ashyq-probe'], { env: aptEnv() });
        expect(dpkgStatus()).toBe('deinstall ok config-files');
        expect(SYSTEM_PATHS.filter((p) => existsSync(p))).toEqual([]);
        expect(existsSync('/etc/ashyq/probe.yaml') && existsSync('/var/lib/ashyq/identity.json') && userExists('ashyq')).toBe(true);

        // Purge: nothing of it is left.
        ok('apt-get', [...offline, 'purge', '-y', 'ashyq-probe'], { env: aptEnv() });
        expect(['', 'unknown ok not-installed']).toContain(dpkgStatus());
        expect(sh('id', ['ashyq']).code).not.toBe(0);
        expect(groupExists('ashyq')).toBe(false);
        expect(['/etc/ashyq', '/var/lib/ashyq', ...SYSTEM_PATHS].filter((p) => existsSync(p))).toEqual([]);
        expect(existsSync('/etc/systemd/system/multi-user.target.wants/ashyq-probe.service')).toBe(false);
      } finally {
        // Whatever failed above, the machine is left without the package.
        if (dpkgStatus() !== '' && !dpkgStatus().includes('not-installed')) sh('dpkg', ['--purge', 'ashyq-probe'], { env: aptEnv() });
      }
    },
    300_000,
  );
});

describe('from the .deb to measurements at a collector: apt-get install, setup with an invite, the daemon, uninstall, purge', () => {
  it(
    'a volunteer\'s path: installed, set up from an invite, its first run and the daemon\'s runs arrive at the collector; uninstall and purge leave nothing',
    async ({ skip }) => {
      if (!SYSTEM) return skip(systemWhy);
      if (userExists('ashyq') || existsSync('/etc/ashyq') || existsSync('/var/lib/ashyq')) throw new Error('refusing: an ashyq probe is set up on this machine');
      const { ManualClock, startCollector } = await import('./fixtures/collector/helpers.js');
      const { startFakeDns } = await import('./fakes/dns-server.js');
      const { main: collectorMain } = await import('../collector/cli/main.js');
      const { spawn } = await import('node:child_process');
      // Every name resolves to loopback, where nothing listens on 443 or 80: the runs stay on this machine.
      const dns = await startFakeDns(() => ({ kind: 'answer', addresses: ['127.0.0.1'] }));
      const collector = await startCollector({ clock: new ManualClock(Date.now()) });
      const dir = tempDir('ashyq-e2e-');
      chmodSync(dir, 0o755);
      ok(process.execPath, [SCRIPT, '--out', dir], { cwd: ROOT });
      const deb = path.join(dir, `ashyq-probe_${VERSION.replace('-', '~')}_all.deb`);
      const run = (command: string, args: string[], timeoutMs: number) =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn(command, args, { env: aptEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          child.stdout.on('data', (c: Buffer) => (out += c.toString()));
          child.stderr.on('data', (c: Buffer) => (out += c.toString()));
          const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
          child.once('close', (code) => (clearTimeout(timer), resolve({ code, out })));
        });
      const offline = ['-o', 'Acquire::http::Proxy=http://127.0.0.1:9/', '-o', 'Acquire::https::Proxy=http://127.0.0.1:9/'];
      try {
        const installed = await run('apt-get', [...offline, 'install', '-y', '--no-install-recommends', deb], 120_000);
        expect(installed.code, installed.out).toBe(0);
        // The operator's invite, and the volunteer's own settings in the config before setup (its resolver).
        let made = '';
        const cfg = path.join(dir, 'collector.yaml');
        writeFileSync(cfg, `data_dir: ${JSON.stringify(collector.dir)}\n`);
        expect(await collectorMain(['invite', '--config', cfg, '--url', collector.url, '--note', 'CI machine', '--json'], { stdout: { write: (t: string) => ((made += t), true) }, stderr: { write: () => true } })).toBe(0);
        const invite = (JSON.parse(made) as { invite: string }).invite;
        writeFileSync('/etc/ashyq/probe.yaml', `measure:\n  timeout_ms: 1500\n  resolvers: ["udp:127.0.0.1:${dns.port}"]\n  bulk_max_kb: 0\n`, { mode: 0o640 });
        const setup = await run('/usr/bin/ashyq-probe', ['setup', invite], 120_000);
        expect(setup.code, setup.out).toBe(0);
        expect(setup.out).toMatch(/enrolled as probe (\S+)/);
        expect(setup.out).toContain('systemd is not running here');
        expect(setup.out).toContain('sudo -u ashyq ashyq-probe daemon --config /etc/ashyq/probe.yaml');
        const probeId = /enrolled as probe (\S+):/.exec(setup.out)![1]!;
        expect(collector.collector.store.probe(probeId)?.note).toBe('CI machine');
        // The state belongs to the service user; the config, holding the secret, to root and its group.
        const [, , uid, gid] = ok('getent', ['passwd', 'ashyq']).trim().split(':');
        expect(statSync('/var/lib/ashyq/identity.json').uid).toBe(Number(uid));
        const conf = statSync('/etc/ashyq/probe.yaml');
        expect([conf.uid, conf.gid, conf.mode & 0o777]).toEqual([0, Number(gid), 0o640]);
        expect(setup.out).toContain('/etc/ashyq/probe.yaml is now group ashyq, mode 0640');

        // The daemon as the service user, as the unit runs it: the first run (spooled by setup) and its own arrive.
        const daemon = spawn('/usr/bin/ashyq-probe', ['daemon', '--config', '/etc/ashyq/probe.yaml'], {
          uid: Number(uid),
          gid: Number(gid),
          cwd: '/var/lib/ashyq',
          env: { ...aptEnv(), HOME: '/var/lib/ashyq', ASHYQ_LOG: 'lines' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let log = '';
        daemon.stderr.on('data', (c: Buffer) => (log += c.toString()));
        const closed = new Promise((r) => daemon.once('close', r));
        const arrived = () => collector.collector.measurements.query({ probe: probeId, limit: 1000 }).length;
        const deadline = Date.now() + 90_000;
        try {
          while (arrived() < 2 && Date.now() < deadline && daemon.exitCode === null) await new Promise((r) => setTimeout(r, 250));
        } finally {
          daemon.kill('SIGTERM');
          const killer = setTimeout(() => daemon.kill('SIGKILL'), 30_000);
          await closed;
          clearTimeout(killer);
        }
        expect(arrived(), log).toBeGreaterThanOrEqual(2);
        expect(log).toMatch(/uploaded \d+ measurements? \(\d+ accepted/);

        const removed = await run('/usr/bin/ashyq-probe', ['uninstall', '--yes'], 60_000);
        expect(removed.code, removed.out).toBe(0);
        expect(existsSync('/var/lib/ashyq/identity.json') || existsSync('/etc/ashyq/probe.yaml')).toBe(false);
        const purged = await run('apt-get', [...offline, 'purge', '-y', 'ashyq-probe'], 120_000);
        expect(purged.code, purged.out).toBe(0);
        expect(['/etc/ashyq', '/var/lib/ashyq', ...SYSTEM_PATHS].filter((p) => existsSync(p))).toEqual([]);
        expect(userExists('ashyq')).toBe(false);
      } finally {
        if (dpkgStatus() !== '' && !dpkgStatus().includes('not-installed')) sh('dpkg', ['--purge', 'ashyq-probe'], { env: aptEnv() });
        await collector.dispose();
        await dns.close();
      }
    },
    400_000,
  );
});
