#!/usr/bin/env node
// `npm test`: installs the Debian packages the tests need (as root), runs build, typecheck, unit and lab tests even after a failure, and prints what passed, failed or skipped.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES_FILE = path.join(ROOT, 'scripts', 'debian-packages.txt');
const REPORTER = path.join(ROOT, 'scripts', 'vitest-summary-reporter.mjs');
const BIN = path.join(ROOT, 'node_modules', '.bin');
const LAB_DIR = 'test/lab';
const PART_NAMES = ['packages', 'build', 'typecheck', 'unit', 'lab'];

const USAGE = `usage: node scripts/test.mjs [--only PARTS] [--skip PARTS] [--files FILTERS] [--no-install] [-- VITEST-OPTIONS]
       npm test [-- same options]

Runs, in order, every part even when an earlier one failed, then prints a summary:
  packages   the Debian packages of scripts/debian-packages.txt: installed with apt-get when
             missing and run as root; otherwise the missing ones are named (their tests skip)
  build      tsc -p tsconfig.build.json (dist/)
  typecheck  tsc -p tsconfig.json --noEmit
  unit       vitest run --exclude 'test/lab/**'         (needs dist/: skipped when the build failed)
  lab        vitest run test/lab, the censored lab       (needs dist/, root and ip netns; else skipped)

  --only PARTS     run only these parts (comma-separated, e.g. --only build,typecheck)
  --skip PARTS     run all but these parts
  --files FILTERS  comma-separated test file filters, as vitest's own (a file runs when its path
                   contains one); the unit part runs the matching files outside test/lab, the lab
                   part those under test/lab; a part with no matching file is skipped
  --no-install     never run apt-get (also: ASHYQ_TEST_NO_INSTALL set, to anything but 0)
  -- OPTIONS       passed to both vitest parts as they are, e.g. -- -t 'pin' (no file filters here:
                   use --files)

Exit status: 0 when no part failed (skipped parts do not fail), 1 when one failed, 2 for a usage
error, 130 when interrupted. Under CI (CI set) a lab that cannot run is a failure, as in test/lab.`;

class UsageError extends Error {}

/** The command line, checked. */
export function parseArgs(argv) {
  // noInstall: false, or what turned installing off (the flag or the variable), to say so.
  const opts = { only: null, skip: new Set(), files: [], noInstall: false, vitestArgs: [], help: false };
  const partList = (flag, value) => {
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a comma-separated list of parts (${PART_NAMES.join(', ')})`);
    const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const n of names) if (!PART_NAMES.includes(n)) throw new UsageError(`${flag}: unknown part "${n}" (the parts: ${PART_NAMES.join(', ')})`);
    return names;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      i += 1;
      return argv[i];
    };
    if (flag === '--') {
      opts.vitestArgs = argv.slice(i + 1);
      break;
    } else if (flag === '-h' || flag === '--help') opts.help = true;
    else if (flag === '--only') opts.only = new Set([...(opts.only ?? []), ...partList('--only', value())]);
    else if (flag === '--skip') for (const n of partList('--skip', value())) opts.skip.add(n);
    else if (flag === '--files') {
      const v = value();
      if (v === undefined || v === '') throw new UsageError('--files needs comma-separated test file filters, e.g. --files deploy-files,collector-cli');
      opts.files.push(...v.split(',').map((s) => s.trim()).filter((s) => s !== ''));
    } else if (flag === '--no-install' && inline === undefined) opts.noInstall = '--no-install';
    else throw new UsageError(`unknown argument "${arg}" (vitest options go after \`--\`, file filters in --files)`);
  }
  return opts;
}

/** scripts/debian-packages.txt: one package a line, "# what needs it" after it. */
export function readPackageList(file = PACKAGES_FILE) {
  const text = readFileSync(file, 'utf8');
  const list = [];
  text.split('\n').forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const name = (hash < 0 ? raw : raw.slice(0, hash)).trim();
    const purpose = hash < 0 ? '' : raw.slice(hash + 1).trim();
    if (name === '') return;
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) throw new Error(`${file}:${i + 1}: "${name}" is not a Debian package name (one package a line, comments after #)`);
    list.push({ name, purpose });
  });
  if (list.length === 0) throw new Error(`${file} lists no packages`);
  return list;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
const inCi = () => process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const say = (line) => process.stdout.write(`${line}\n`);
const describePackages = (list) => list.map((p) => (p.purpose === '' ? p.name : `${p.name} (${p.purpose})`)).join('; ');

/** Which of `names` dpkg does not have installed; null when dpkg-query cannot be run (not Debian). */
export function missingPackages(names) {
  const r = spawnSync('dpkg-query', ['-W', '--showformat=${Package}\t${db:Status-Abbrev}\n', ...names], { encoding: 'utf8' });
  if (r.error !== undefined) return { missing: null, why: `dpkg-query could not be run (${r.error.code ?? r.error.message}): not a Debian system?` };
  const installed = new Set(
    r.stdout
      .split('\n')
      .map((l) => l.split('\t'))
      .filter(([, status]) => status !== undefined && status.startsWith('ii'))
      .map(([name]) => name.replace(/:.*$/, '')),
  );
  return { missing: names.filter((n) => !installed.has(n)), why: '' };
}

/** The part's command running now, to pass a SIGTERM on to. */
let current = null;

/** Run a command with its output streamed to ours; resolves to its exit code (or 128 + signal). */
function runStreamed(command, args, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit', env });
    current = child;
    child.once('exit', () => {
      if (current === child) current = null;
    });
    child.once('error', (err) => {
      say(`test: ${command} could not be started: ${err.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? 128 + (os.constants.signals[signal] ?? 0)));
  });
}

function tool(name) {
  const file = path.join(BIN, name);
  if (!existsSync(file)) throw new Error(`${path.relative(ROOT, file)} not found: run \`npm ci\` first`);
  return file;
}

async function partPackages(opts) {
  if (process.platform !== 'linux') return { status: 'skipped', note: `not Linux (${process.platform}): no Debian packages to check; tests whose tools are missing skip` };
  const list = readPackageList();
  const names = list.map((p) => p.name);
  const first = missingPackages(names);
  if (first.missing === null) return { status: 'skipped', note: `${first.why}; cannot check ${names.join(' ')}; tests whose tools are missing skip` };
  if (first.missing.length === 0) return { status: 'passed', note: `all ${names.length} Debian packages of scripts/debian-packages.txt installed` };
  const missing = list.filter((p) => first.missing.includes(p.name));
  const hint = `apt-get install -y --no-install-recommends ${first.missing.join(' ')}`;
  if (opts.noInstall) {
    return { status: 'skipped', note: `missing, not installed (${opts.noInstall}): ${describePackages(missing)}; the tests that need them skip (as root: ${hint})` };
  }
  if (!isRoot()) {
    return { status: 'skipped', note: `missing, not installed (not root): ${describePackages(missing)}; the tests that need them skip (as root: ${hint})` };
  }
  say(`test: installing the missing Debian packages: ${first.missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const updated = await runStreamed('apt-get', ['update', '-qq'], env);
  if (updated !== 0) return { status: 'failed', note: `apt-get update exited with ${updated}; not installed: ${first.missing.join(' ')}` };
  const installed = await runStreamed('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...first.missing], env);
  if (installed !== 0) return { status: 'failed', note: `apt-get install exited with ${installed}; not installed: ${first.missing.join(' ')}` };
  const after = missingPackages(names);
  if (after.missing === null || after.missing.length > 0) {
    return { status: 'failed', note: `apt-get install succeeded but dpkg still lacks: ${(after.missing ?? first.missing).join(' ')}` };
  }
  return { status: 'passed', note: `installed ${first.missing.join(' ')} (all ${names.length} now present)` };
}

async function partTsc(args) {
  const code = await runStreamed(tool('tsc'), args);
  return code === 0 ? { status: 'passed', note: '' } : { status: 'failed', note: `tsc exited with ${code}` };
}

/** Can the lab build network namespaces here? Root and a working `ip netns add`. */
export function labSupport() {
  if (process.platform !== 'linux') return { ok: false, why: `network namespaces need Linux (this is ${process.platform})` };
  if (!isRoot()) return { ok: false, why: 'not root: the lab creates network namespaces (run npm test as root)' };
  const name = `ashyq-test-netns-check-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.error !== undefined) return { ok: false, why: `\`ip\` could not be run (${add.error.code ?? add.error.message}): install iproute2` };
  if (add.status !== 0) return { ok: false, why: `no ip netns support: \`ip netns add\` failed: ${add.stderr.trim() || `exit ${add.status}`}` };
  const del = spawnSync('ip', ['netns', 'del', name], { encoding: 'utf8' });
  if (del.status !== 0) say(`test: warning: could not remove the check namespace ${name}: ${(del.stderr ?? '').trim()}`);
  return { ok: true, why: '' };
}

/** The test files under test/lab whose path contains one of `filters` (vitest's own filter rule). */
function labFilesMatching(filters) {
  const files = readdirSync(path.join(ROOT, LAB_DIR), { recursive: true })
    .map((f) => path.posix.join(LAB_DIR, String(f).split(path.sep).join('/')))
    .filter((f) => f.endsWith('.test.ts'));
  return files.filter((f) => filters.some((flt) => f.includes(flt) || path.join(ROOT, f).includes(flt)));
}

async function partVitest(args, opts) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ashyq-test-'));
  const summaryFile = path.join(dir, 'summary.json');
  try {
    const env = { ...process.env, ASHYQ_VITEST_SUMMARY: summaryFile };
    const full = ['run', '--reporter=default', `--reporter=${REPORTER}`, ...args, ...opts.vitestArgs];
    const code = await runStreamed(tool('vitest'), full, env);
    let summary = null;
    try {
      summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
    } catch {
      // vitest ended before its reporters ran
    }
    const result = { status: code === 0 ? 'passed' : 'failed', note: code === 0 ? '' : `vitest exited with ${code}`, vitest: summary };
    if (summary === null) result.note = `vitest exited with ${code} without reporting (see its output above)`;
    else if (summary.counts.files === 0) result.note = 'no test file matched';
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function needsDist(state) {
  if (state.build === 'failed') return 'the build failed, and these tests run the built programs (bin/ → dist/)';
  if (state.build === undefined && !existsSync(path.join(ROOT, 'dist'))) return 'no dist/ (the build part did not run): run with the build part, or `npm run build`';
  return null;
}

async function runPart(name, opts, state) {
  switch (name) {
    case 'packages':
      return partPackages(opts);
    case 'build':
      return partTsc(['-p', 'tsconfig.build.json']);
    case 'typecheck':
      return partTsc(['-p', 'tsconfig.json', '--noEmit']);
    case 'unit': {
      const why = needsDist(state);
      if (why !== null) return { status: 'skipped', note: why };
      const filters = opts.files.length > 0 ? ['--passWithNoTests', ...opts.files] : [];
      return partVitest(['--exclude', `${LAB_DIR}/**`, ...filters], opts);
    }
    case 'lab': {
      const why = needsDist(state);
      if (why !== null) return { status: 'skipped', note: why };
      let files = [LAB_DIR];
      if (opts.files.length > 0) {
        files = labFilesMatching(opts.files);
        if (files.length === 0) return { status: 'skipped', note: `no test file under ${LAB_DIR} matches --files ${opts.files.join(',')}` };
      }
      const support = labSupport();
      if (!support.ok) {
        if (inCi()) return { status: 'failed', note: `the censored lab cannot run, and under CI (CI set) it must: ${support.why}` };
        return { status: 'skipped', note: `the censored lab cannot run here: ${support.why}` };
      }
      return partVitest(files, opts);
    }
    default:
      throw new Error(`no part ${name}`);
  }
}

export function formatDuration(ms) {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function testCounts(v) {
  if (v === undefined || v === null) return '';
  const c = v.counts;
  const parts = [`${c.passed} passed`, `${c.failed} failed`, `${c.skipped} skipped`];
  if (c.todo > 0) parts.push(`${c.todo} todo`);
  return `${c.tests} tests: ${parts.join(', ')}; ${c.files} ${c.files === 1 ? 'file' : 'files'}${c.failedFiles > 0 ? ` (${c.failedFiles} failed)` : ''}`;
}

/** The summary table and the lists of skipped and failed tests. */
export function formatSummary(results) {
  const rows = results.map((r) => [r.name, r.status, r.ms === null ? '-' : formatDuration(r.ms), testCounts(r.vitest), r.note]);
  const head = ['part', 'result', 'time', 'tests', 'note'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  width[4] = 0;
  const line = (cells) => cells.map((c, i) => (i < 4 ? c.padEnd(width[i]) : c)).join('  ').trimEnd();
  const out = ['', '== npm test: summary ==', line(head), line(width.map((w, i) => '-'.repeat(i < 4 ? w : 4))), ...rows.map(line)];
  const skips = results.flatMap((r) => (r.vitest?.skips ?? []).map((s) => ({ part: r.name, ...s })));
  if (skips.length > 0) {
    out.push('', 'Skipped tests, by file, with the reason the file gave:');
    for (const s of skips) {
      const reasons = s.reasons.filter((x, i, all) => !all.some((y, j) => j !== i && y.length > x.length && y.includes(x)));
      out.push(`  ${s.part}  ${s.file}: ${s.skipped} of ${s.of} skipped: ${reasons.length > 0 ? reasons.join('; ') : 'no reason given (see the file\'s output above)'}`);
    }
  }
  const loose = results.flatMap((r) => (r.vitest?.unattributedSkipLines ?? []).map((l) => `  ${r.name}  ${l}`));
  if (loose.length > 0) out.push('', 'Skip messages not tied to a test file:', ...new Set(loose));
  const failures = results.flatMap((r) => (r.vitest?.failures ?? []).map((f) => ({ part: r.name, ...f })));
  const unhandled = results.flatMap((r) => (r.vitest?.unhandledErrors ?? []).map((e) => ({ part: r.name, e })));
  if (failures.length > 0 || unhandled.length > 0) {
    out.push('', 'Failed tests:');
    for (const f of failures) out.push(`  ${f.part}  ${f.file}${f.test === null ? ' (the file itself)' : ` > ${f.test}`}: ${f.message}`);
    for (const u of unhandled) out.push(`  ${u.part}  unhandled error: ${u.e}`);
  }
  const failed = results.filter((r) => r.status === 'failed').map((r) => r.name);
  const skipped = results.filter((r) => r.status === 'skipped').map((r) => r.name);
  out.push('', failed.length > 0 ? `npm test: FAILED: ${failed.join(', ')}${skipped.length > 0 ? ` (skipped: ${skipped.join(', ')})` : ''}` : `npm test: passed${skipped.length > 0 ? ` (skipped: ${skipped.join(', ')})` : ''}`);
  return out.join('\n');
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`test: ${err.message}\n(node scripts/test.mjs --help lists the options)\n`);
    process.exit(2);
  }
  if (opts.help) {
    say(USAGE);
    return;
  }
  const env = process.env.ASHYQ_TEST_NO_INSTALL;
  if (env !== undefined && env !== '' && env !== '0') opts.noInstall = `ASHYQ_TEST_NO_INSTALL=${env}`;

  let interrupted = false;
  // A Ctrl-C reaches the running command from the terminal itself; a SIGTERM is passed on to it. Either
  // way the running part ends, the rest do not run, and the summary says so.
  process.on('SIGINT', () => {
    interrupted = true;
  });
  process.on('SIGTERM', () => {
    interrupted = true;
    current?.kill('SIGTERM');
  });

  const selected = PART_NAMES.filter((n) => (opts.only === null || opts.only.has(n)) && !opts.skip.has(n));
  const state = {};
  const results = [];
  for (const name of PART_NAMES) {
    if (!selected.includes(name)) {
      results.push({ name, status: 'skipped', ms: null, note: opts.only !== null && !opts.only.has(name) ? 'not selected (--only)' : 'not selected (--skip)' });
      continue;
    }
    if (interrupted) {
      results.push({ name, status: 'skipped', ms: null, note: 'interrupted before it ran' });
      continue;
    }
    say(`\n== test: ${name} ==`);
    const started = performance.now();
    let r;
    try {
      r = await runPart(name, opts, state);
    } catch (err) {
      r = { status: 'failed', note: err instanceof Error ? err.message : String(err) };
    }
    if (interrupted && r.status !== 'skipped') r = { ...r, status: 'failed', note: `interrupted${r.note ? `; ${r.note}` : ''}` };
    const ms = performance.now() - started;
    state[name] = r.status;
    results.push({ name, ms, ...r });
    if (r.status === 'skipped') say(`test: ${name} skipped: ${r.note}`);
    else if (r.status === 'failed') say(`test: ${name} FAILED${r.note ? `: ${r.note}` : ''}`);
  }
  say(formatSummary(results));
  process.exitCode = interrupted ? 130 : results.some((r) => r.status === 'failed') ? 1 : 0;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
