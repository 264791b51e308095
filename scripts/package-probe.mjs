#!/usr/bin/env node
// `npm run package:probe`: the probe's release artefacts from the built dist/: a tarball with its dependencies bundled (installs with no registry) and ashyq-probe_<version>_all.deb.
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAME = 'ashyq-probe';
/** The oldest Node.js the probe supports: Debian 13's and Raspberry Pi OS's nodejs (20.19). */
const MIN_NODE = '20.19';
/** What the probe loads at run time from node_modules; their own dependencies come along. */
const RUNTIME_DEPS = ['undici', 'p-queue', 'dns-packet', 'yaml'];
/** The code the probe runs: dist/probe and what it imports of these (never dist/collector). */
const SHARED_DIST = ['dist/contract', 'dist/common'];
const BIN = 'bin/ashyq-probe.cjs';
const UNIT = 'deploy/ashyq-probe.service';
const DEBIAN_SCRIPTS = ['postinst', 'prerm', 'postrm'];
const INSTALL_DIR = '/usr/lib/ashyq-probe';
const UNIT_DIR = '/lib/systemd/system';
const DEFAULT_MAINTAINER = 'ashyq maintainers <ashyq@invalid>';

const USAGE = `usage: node scripts/package-probe.mjs [--out DIR]
       npm run package:probe [-- --out DIR]

Packages the probe alone from the built dist/ (run \`npm run build\` first; \`npm run package:probe\`
does): stages it in DIR/${NAME}-<version>/ with its own package.json and only its runtime
dependencies (${RUNTIME_DEPS.join(', ')} and theirs, from node_modules), then writes
  DIR/${NAME}-<version>.tar.gz     the staged tree; installs with no registry access:
                                   npm install -g ./${NAME}-<version>.tar.gz, or unpack and run bin/
  DIR/${NAME}_<version>_all.deb    for Debian and Raspberry Pi OS (dpkg-deb): the command, the
                                   systemd unit, the user ashyq, /etc/ashyq and /var/lib/ashyq

  --out DIR   where to write (default: release/ in the repository)

Environment: ASHYQ_DEB_MAINTAINER the .deb's Maintainer (default: package.json's author, else
"${DEFAULT_MAINTAINER}"); SOURCE_DATE_EPOCH, when set, the files' time in the tarball.
Exit status: 0 written, 1 a check failed (the message says which), 2 bad usage.`;

class PackageError extends Error {}
class UsageError extends Error {}

const say = (line) => process.stdout.write(`${line}\n`);
const rel = (file) => path.relative(ROOT, file) || '.';

function parseArgs(argv) {
  const opts = { out: path.join(ROOT, 'release'), help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') opts.help = true;
    else if (arg === '--out' || arg.startsWith('--out=')) {
      const value = arg === '--out' ? argv[(i += 1)] : arg.slice('--out='.length);
      if (value === undefined || value === '') throw new UsageError('--out needs a directory');
      opts.out = path.resolve(value);
    } else throw new UsageError(`unknown argument "${arg}"`);
  }
  return opts;
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PackageError(`cannot read ${rel(file)}: ${err.message}`);
  }
}

/** Run a command; its output is returned, a failure throws with its stderr. */
function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error !== undefined) {
    const hint = r.error.code === 'ENOENT' ? ` (${command} is not installed${command === 'dpkg-deb' ? ': the .deb is built on Debian or Ubuntu, package dpkg' : ''})` : '';
    throw new PackageError(`${command} could not be run: ${r.error.message}${hint}`);
  }
  if (r.status !== 0) throw new PackageError(`${command} ${args.join(' ')} exited with ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Every file under dir (relative paths, sorted), following no symlinks. */
function walk(dir, base = dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full, base));
    else out.push(path.relative(base, full));
  }
  return out;
}

// ---- the probe's code: dist/probe and what it imports ----

/** Module specifiers in a built file: static and dynamic imports, re-exports, require(). */
const SPECIFIER_PATTERNS = [
  /\bfrom\s*(['"])([^'"\n]+)\1/g,
  /\bimport\s*(['"])([^'"\n]+)\1/g,
  /\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  /\brequire\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  /\bcreateRequire\([^)]*\)\(\s*(['"])([^'"\n]+)\1\s*\)/g,
];

function specifiersOf(text) {
  const found = new Set();
  for (const re of SPECIFIER_PATTERNS) for (const m of text.matchAll(re)) found.add(m[2]);
  return [...found];
}

/** The package a bare specifier names: "undici/lib/x.js" → undici, "@scope/name/x" → @scope/name. */
function packageOf(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * The built files the probe runs: every file of dist/probe that has a source in probe/, and the
 * files of dist/contract and dist/common they import, transitively. Fails when any of them imports
 * dist/collector (or anything else outside those), a file that is missing, or a package that is not
 * one of RUNTIME_DEPS.
 */
function probeModules() {
  const roots = [];
  const stale = [];
  for (const f of walk(path.join(ROOT, 'dist/probe')).filter((f) => f.endsWith('.js'))) {
    const source = path.join(ROOT, 'probe', f.replace(/\.js$/, '.ts'));
    if (existsSync(source)) roots.push(path.join(ROOT, 'dist/probe', f));
    else stale.push(`dist/probe/${f}`);
  }
  if (stale.length > 0) say(`package-probe: not packaged, no source in probe/ (left over from an older build?): ${stale.join(', ')}`);
  // The bin's own imports (../dist/probe/...) must be among them.
  const binFile = path.join(ROOT, BIN);
  for (const spec of specifiersOf(readFileSync(binFile, 'utf8'))) {
    if (spec.startsWith('.')) roots.push(path.resolve(path.dirname(binFile), spec));
  }
  const allowed = ['dist/probe', ...SHARED_DIST].map((d) => path.join(ROOT, d) + path.sep);
  const collector = path.join(ROOT, 'dist/collector') + path.sep;
  const seen = new Map(); // file → the file that first imported it (null for a root)
  const problems = [];
  const packages = new Set();
  const queue = roots.map((f) => [f, null]);
  while (queue.length > 0) {
    const [file, from] = queue.shift();
    if (seen.has(file)) continue;
    seen.set(file, from);
    const by = from === null ? '' : ` (imported by ${rel(from)})`;
    if (file.startsWith(collector)) {
      problems.push(`${rel(file)}${by}: the probe must not import the collector's code`);
      continue;
    }
    if (!allowed.some((d) => file.startsWith(d))) {
      problems.push(`${rel(file)}${by}: outside ${['dist/probe', ...SHARED_DIST].join(', ')}`);
      continue;
    }
    if (!existsSync(file)) {
      problems.push(`${rel(file)}${by}: missing (run \`npm run build\`)`);
      continue;
    }
    for (const spec of specifiersOf(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('./') || spec.startsWith('../')) queue.push([path.resolve(path.dirname(file), spec), file]);
      else if (spec.startsWith('node:') || isBuiltin(spec)) continue;
      else if (spec.startsWith('/') || /^[a-z]+:/.test(spec)) problems.push(`${rel(file)} imports "${spec}": only relative paths, node: built-ins and packages are packaged`);
      else if (!RUNTIME_DEPS.includes(packageOf(spec))) problems.push(`${rel(file)} imports "${spec}", which is not one of the probe's runtime dependencies (${RUNTIME_DEPS.join(', ')}): add it to RUNTIME_DEPS in scripts/package-probe.mjs if the probe really needs it`);
      else packages.add(packageOf(spec));
    }
  }
  if (problems.length > 0) throw new PackageError(`the probe's code does not stand alone:\n  ${problems.join('\n  ')}`);
  return { files: [...seen.keys()].sort(), packages };
}

// ---- the probe's dependencies: RUNTIME_DEPS and theirs, from node_modules ----

/** Where Node would find `name` from `dir` (a package directory under ROOT), as Node looks: up the tree, not above ROOT. */
function resolvePackage(name, dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (d === ROOT || path.dirname(d) === d) return null;
  }
}

/** The package directories (under ROOT/node_modules) the runtime dependencies need, transitively. */
function dependencyClosure() {
  const found = new Map(); // package dir → name@version
  const queue = RUNTIME_DEPS.map((name) => [name, ROOT, 'package.json']);
  while (queue.length > 0) {
    const [name, from, by] = queue.shift();
    const dir = resolvePackage(name, from);
    if (dir === null) throw new PackageError(`${name} (needed by ${by}) is not in node_modules: run \`npm ci\` first`);
    if (found.has(dir)) continue;
    const pkg = readJson(path.join(dir, 'package.json'));
    found.set(dir, `${pkg.name}@${pkg.version}`);
    const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
    const optionalPeers = new Set(Object.entries(pkg.peerDependenciesMeta ?? {}).filter(([, m]) => m?.optional).map(([n]) => n));
    const needs = new Set([...Object.keys(pkg.dependencies ?? {}), ...optional, ...Object.keys(pkg.peerDependencies ?? {})]);
    for (const dep of needs) {
      if ((optional.has(dep) || optionalPeers.has(dep)) && resolvePackage(dep, dir) === null) continue;
      queue.push([dep, dir, `${pkg.name}@${pkg.version}`]);
    }
  }
  return found;
}

/** A pure-JavaScript package: no native addon, nothing built or run when installed. */
function assertPureJs(dir, id) {
  const problems = [];
  for (const f of walk(dir)) {
    if (path.basename(f) === 'binding.gyp') problems.push(`${f}: a native addon's build file`);
    if (f.endsWith('.node')) problems.push(`${f}: a native addon`);
  }
  const pkg = readJson(path.join(dir, 'package.json'));
  if (pkg.gypfile === true) problems.push('package.json: gypfile (a native addon)');
  for (const hook of ['preinstall', 'install', 'postinstall']) {
    if (pkg.scripts?.[hook] !== undefined) problems.push(`package.json: a "${hook}" script (${pkg.scripts[hook]})`);
  }
  if (problems.length > 0) throw new PackageError(`${id} (${rel(dir)}) is not pure JavaScript, and the probe must install without a compiler or prebuilt binaries:\n  ${problems.join('\n  ')}`);
}

// ---- staging ----

/** Files 0644 and directories 0755, but for the executables named. */
function fixModes(dir, executables) {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) fixModes(full, executables);
    else if (entry.isFile()) chmodSync(full, executables.has(full) ? 0o755 : 0o644);
  }
}

function copyFile(from, to) {
  mkdirSync(path.dirname(to), { recursive: true });
  cpSync(from, to, { dereference: true });
}

function probeManifest(rootPkg) {
  const dependencies = {};
  for (const name of RUNTIME_DEPS) {
    const range = rootPkg.dependencies?.[name];
    if (range === undefined) throw new PackageError(`package.json: "${name}" is not in "dependencies", and the probe needs it at run time`);
    dependencies[name] = range;
  }
  return {
    name: NAME,
    version: rootPkg.version,
    description: 'The ashyq volunteer probe: measures internet censorship in Kazakhstan and uploads the evidence to an ashyq collector',
    ...(rootPkg.license !== undefined ? { license: rootPkg.license } : {}),
    ...(rootPkg.homepage !== undefined ? { homepage: rootPkg.homepage } : {}),
    ...(rootPkg.repository !== undefined ? { repository: rootPkg.repository } : {}),
    type: 'module',
    engines: { node: `>=${MIN_NODE}` },
    bin: { [NAME]: BIN },
    dependencies,
    // Bundled: npm installs the tarball with the node_modules in it, without asking a registry.
    bundleDependencies: [...RUNTIME_DEPS],
  };
}

/** The staged tree: the probe's code, bin, target list, unit, manifest and node_modules. */
function stage(dir, rootPkg, modules, deps) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const file of modules) copyFile(file, path.join(dir, path.relative(ROOT, file)));
  for (const file of [BIN, 'targets.yaml', UNIT]) {
    if (!existsSync(path.join(ROOT, file))) throw new PackageError(`${file} not found in the repository`);
    copyFile(path.join(ROOT, file), path.join(dir, file));
  }
  for (const file of ['LICENSE', 'LICENSE.md', 'COPYING', 'README.md']) {
    if (existsSync(path.join(ROOT, file))) copyFile(path.join(ROOT, file), path.join(dir, file));
  }
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(probeManifest(rootPkg), null, 2)}\n`);
  for (const [pkgDir, id] of deps) {
    const to = path.join(dir, path.relative(ROOT, pkgDir));
    const nested = path.join(pkgDir, 'node_modules');
    // Its own node_modules are packages of their own, copied when the closure needs them.
    cpSync(pkgDir, to, { recursive: true, dereference: true, filter: (src) => src !== nested });
    assertPureJs(to, id);
  }
  fixModes(dir, new Set([path.join(dir, BIN)]));
}

/** The packaged unit: deploy/ashyq-probe.service with the command where the .deb puts it. */
function packagedUnit() {
  const text = readFileSync(path.join(ROOT, UNIT), 'utf8');
  const exec = /^ExecStart=\/usr\/local\/bin\/ashyq-probe(\s|$)/m;
  if (!exec.test(text)) throw new PackageError(`${UNIT}: no "ExecStart=/usr/local/bin/ashyq-probe …" line to point at /usr/bin/ashyq-probe (the .deb's command)`);
  const lines = text.replaceAll('/usr/local/bin/ashyq-probe', '/usr/bin/ashyq-probe').split('\n');
  lines.splice(1, 0, '# Installed by the ashyq-probe Debian package (generated from deploy/ashyq-probe.service; the package makes the user, /etc/ashyq and /var/lib/ashyq).');
  return lines.join('\n');
}

/** 0.1.0 → 0.1.0; 0.2.0-rc.1 → 0.2.0~rc.1 (a pre-release sorts before its release in Debian too). */
function debianVersion(version) {
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(version)) throw new PackageError(`package.json: version "${version}" is not x.y.z[-pre][+build]`);
  return version.replace('-', '~');
}

function installedSizeKiB(dir) {
  let kib = 0;
  for (const f of walk(dir)) kib += Math.ceil(lstatSync(path.join(dir, f)).size / 1024) || 1;
  return kib;
}

function maintainer(rootPkg) {
  const env = process.env.ASHYQ_DEB_MAINTAINER;
  if (env !== undefined && env.trim() !== '') return env.trim();
  const author = rootPkg.author;
  if (typeof author === 'string' && /<[^>]+>/.test(author)) return author;
  if (author?.name !== undefined && author?.email !== undefined) return `${author.name} <${author.email}>`;
  return DEFAULT_MAINTAINER;
}

function buildDeb(staged, rootPkg, debFile) {
  const root = mkdtempSync(path.join(os.tmpdir(), 'ashyq-probe-deb-'));
  try {
    const lib = path.join(root, INSTALL_DIR);
    // The tree without deploy/: the unit is installed where systemd finds it, with its /usr/bin path.
    cpSync(staged, lib, { recursive: true, filter: (src) => src !== path.join(staged, 'deploy') });
    mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    symlinkSync(path.relative('/usr/bin', path.join(INSTALL_DIR, BIN)), path.join(root, 'usr/bin', NAME));
    const unitDir = path.join(root, UNIT_DIR);
    mkdirSync(unitDir, { recursive: true });
    writeFileSync(path.join(unitDir, `${NAME}.service`), packagedUnit());
    const control = path.join(root, 'DEBIAN');
    mkdirSync(control);
    for (const script of DEBIAN_SCRIPTS) {
      const from = path.join(ROOT, 'deploy/debian', script);
      if (!existsSync(from)) throw new PackageError(`deploy/debian/${script} not found (the .deb's maintainer scripts)`);
      copyFile(from, path.join(control, script));
    }
    const executables = new Set([path.join(lib, BIN), ...DEBIAN_SCRIPTS.map((s) => path.join(control, s))]);
    fixModes(root, executables);
    chmodSync(root, 0o755);
    const description = [
      'ashyq internet censorship measurement probe',
      ' The volunteer probe of ashyq: tests on a schedule whether services blocked in',
      ' Kazakhstan before can be resolved, connected to, handshaken with and fetched,',
      ' and how they are blocked when they cannot; keeps every measurement on disk',
      ' until the ashyq collector has it. Runs as the system user ashyq, from a',
      ' hardened systemd unit. After installing: sudo ashyq-probe setup <invite>',
    ];
    const fields = [
      `Package: ${NAME}`,
      `Version: ${debianVersion(rootPkg.version)}`,
      'Architecture: all',
      `Maintainer: ${maintainer(rootPkg)}`,
      `Installed-Size: ${installedSizeKiB(path.join(root, 'usr')) + installedSizeKiB(path.join(root, 'lib'))}`,
      // passwd: useradd and groupadd in postinst (Priority: required, but not Essential).
      `Depends: nodejs (>= ${MIN_NODE}), passwd`,
      'Section: net',
      'Priority: optional',
      ...(typeof rootPkg.homepage === 'string' ? [`Homepage: ${rootPkg.homepage}`] : []),
      `Description: ${description[0]}`,
      ...description.slice(1),
    ];
    writeFileSync(path.join(control, 'control'), `${fields.join('\n')}\n`, { mode: 0o644 });
    rmSync(debFile, { force: true });
    run('dpkg-deb', ['--root-owner-group', '--build', root, debFile]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function buildTarball(outDir, top, tarFile) {
  const args = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--use-compress-program=gzip -9n', '-C', outDir, '-cf', tarFile, top];
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch)) args.unshift(`--mtime=@${epoch}`);
  rmSync(tarFile, { force: true });
  run('tar', args);
}

function size(file) {
  const bytes = statSync(file).size;
  const human = bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(0)} KiB`;
  return `${human} (${bytes} bytes)`;
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`package-probe: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    say(USAGE);
    return 0;
  }
  try {
    for (const dir of ['dist/probe', ...SHARED_DIST]) {
      if (!existsSync(path.join(ROOT, dir))) throw new PackageError(`${dir}/ not found: build first (\`npm run build\`, or \`npm run package:probe\`, which builds)`);
    }
    const rootPkg = readJson(path.join(ROOT, 'package.json'));
    const version = rootPkg.version;
    debianVersion(version);
    const { files, packages } = probeModules();
    const unused = RUNTIME_DEPS.filter((d) => !packages.has(d));
    if (unused.length > 0) say(`package-probe: note: no import of ${unused.join(', ')} was seen in the probe's code (bundled all the same)`);
    const deps = dependencyClosure();
    const top = `${NAME}-${version}`;
    mkdirSync(opts.out, { recursive: true });
    const staged = path.join(opts.out, top);
    stage(staged, rootPkg, files, deps);
    say(`package-probe: staged ${files.length} modules and ${deps.size} packages (${[...deps.values()].join(', ')}) in ${staged}`);
    const tarFile = path.join(opts.out, `${top}.tar.gz`);
    buildTarball(opts.out, top, tarFile);
    const debFile = path.join(opts.out, `${NAME}_${debianVersion(version)}_all.deb`);
    buildDeb(staged, rootPkg, debFile);
    say(`${tarFile}  ${size(tarFile)}`);
    say(`${debFile}  ${size(debFile)}`);
    return 0;
  } catch (err) {
    if (!(err instanceof PackageError)) throw err;
    process.stderr.write(`package-probe: ${err.message}\n`);
    return 1;
  }
}

process.exitCode = main();
