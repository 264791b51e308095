// scripts/test.mjs (`npm test`): its options, the Debian package check and install (with fake dpkg-query and apt-get), and a small vitest part's summary.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNNER = path.join(ROOT, 'scripts', 'test.mjs');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The runner's environment: ours without CI and the outer vitest's variables, plus `extra`. */
function runnerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'CI' && !k.startsWith('VITEST') && !k.startsWith('ASHYQ_')) env[k] = v;
  return { ...env, ...extra };
}

function runner(args: string[], extra: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [RUNNER, ...args], { cwd: ROOT, encoding: 'utf8', env: runnerEnv(extra), timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A directory with a fake dpkg-query (every package installed but those in FAKE_MISSING) and a fake apt-get that "installs". */
function fakeDebian(missing: string[]): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ashyq-runner-test-'));
  dirs.push(dir);
  const dpkg = `#!/bin/sh
# fake dpkg-query -W --showformat=... PACKAGES
shift 2
for p in "$@"; do
  case " $FAKE_MISSING " in
    *" $p "*) if [ ! -e "$FAKE_DIR/installed-$p" ]; then echo "dpkg-query: no packages found matching $p" >&2; continue; fi ;;
  esac
  printf '%s\\tii \\n' "$p"
done
`;
  const apt = `#!/bin/sh
# fake apt-get: logs its arguments; "install" marks the packages installed
echo "$*" >> "$FAKE_DIR/apt-get.log"
if [ "$1" = install ]; then for p in "$@"; do touch "$FAKE_DIR/installed-$p"; done; fi
`;
  writeFileSync(path.join(dir, 'dpkg-query'), dpkg);
  writeFileSync(path.join(dir, 'apt-get'), apt);
  chmodSync(path.join(dir, 'dpkg-query'), 0o755);
  chmodSync(path.join(dir, 'apt-get'), 0o755);
  return { dir, env: { PATH: `${dir}${path.delimiter}${process.env['PATH'] ?? ''}`, FAKE_DIR: dir, FAKE_MISSING: missing.join(' ') } };
}

describe('scripts/test.mjs', () => {
  it('refuses an unknown part or argument with a usage error (exit 2)', () => {
    const part = runner(['--only', 'build,nope']);
    expect(part.code).toBe(2);
    expect(part.out).toContain('--only: unknown part "nope" (the parts: packages, build, typecheck, unit, lab)');
    const stray = runner(['test/deploy-files.test.ts']);
    expect(stray.code).toBe(2);
    expect(stray.out).toContain('unknown argument "test/deploy-files.test.ts"');
  });

  it('names the missing Debian packages and does not install them when installing is off', () => {
    const fake = fakeDebian(['influxdb', 'chromium']);
    const r = runner(['--only', 'packages'], { ...fake.env, ASHYQ_TEST_NO_INSTALL: '1' });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/packages +skipped .*missing, not installed \(ASHYQ_TEST_NO_INSTALL=1\): influxdb \(the InfluxDB tests: [^)]*\); chromium \(the browser tests: [^)]*\); the tests that need them skip/);
    expect(r.out).toMatch(/unit +skipped .*not selected \(--only\)/);
    expect(existsSync(path.join(fake.dir, 'apt-get.log'))).toBe(false);
  });

  it('not root, names the missing packages and leaves apt-get alone', ({ skip }) => {
    if (isRoot) return skip('running as root: the tests below check the install instead');
    const fake = fakeDebian(['influxdb']);
    const r = runner(['--only', 'packages'], fake.env);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/packages +skipped .*missing, not installed \(not root\): influxdb \(the InfluxDB tests: [^)]*\); the tests that need them skip/);
    expect(existsSync(path.join(fake.dir, 'apt-get.log'))).toBe(false);
  });

  it('as root, installs the missing packages with apt-get', ({ skip }) => {
    if (!isRoot) return skip('not root: the runner installs only as root');
    const fake = fakeDebian(['docker-compose']);
    const r = runner(['--only', 'packages'], fake.env);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/packages +passed .*installed docker-compose \(all \d+ now present\)/);
    expect(readFileSync(path.join(fake.dir, 'apt-get.log'), 'utf8')).toBe('update -qq\ninstall -y -qq --no-install-recommends docker-compose\n');
  });

  it('as root, fails the packages part when apt-get fails, and runs the other parts anyway', ({ skip }) => {
    if (!isRoot) return skip('not root: the runner installs only as root');
    const fake = fakeDebian(['sslsplit']);
    writeFileSync(path.join(fake.dir, 'apt-get'), '#!/bin/sh\n# fake apt-get that fails\necho "E: Unable to locate package" >&2\nexit 100\n');
    const r = runner(['--only', 'packages,lab', '--files', 'no-such-file'], fake.env);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/packages +failed .*apt-get update exited with 100; not installed: sslsplit/);
    expect(r.out).toMatch(/lab +skipped .*no test file under test\/lab matches --files no-such-file/);
    expect(r.out).toContain('npm test: FAILED: packages');
  });

  // The unit part of one small file, in the runner's own vitest; tests of the built programs need dist/.
  it('lists a test file that skips for a missing tool, with its reason, in the summary', ({ skip }) => {
    if (!existsSync(path.join(ROOT, 'dist'))) return skip('no dist/: the runner skips the unit part without a build (npm run build)');
    const r = runner(['--only', 'unit', '--files', 'deploy-files'], { ASHYQ_DOCKER_COMPOSE: '/nonexistent/docker-compose' });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/unit +passed .*\d+ tests: \d+ passed, 0 failed, [1-9]\d* skipped; 1 file/);
    expect(r.out).toMatch(
      /unit {2}test\/deploy-files\.test\.ts: 1 of \d+ skipped: SKIPPING the test that needs a real docker-compose: ASHYQ_DOCKER_COMPOSE=\/nonexistent\/docker-compose is not an executable file/,
    );
    expect(r.out).toContain('npm test: passed (skipped: packages, build, typecheck, lab)');
  }, 120_000);
});
