// The ashyq-collector command line: help (global and per command), --version, usage and config errors, serve (with a generated token, and on a taken port) and reindex.
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS, main, OPTIONS } from '../collector/cli/main.js';
import { HELP_COMMANDS } from '../collector/cli/help.js';
import { signBatch } from '../contract/wire.js';
import { makeMeasurement, newKeyPair, request, TARGETS_FILE, tempDir } from './fixtures/collector/helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } },
  };
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function waitFor<T>(f: () => T | undefined, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A real socket holding a free loopback port, as another process would. */
async function occupyPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('ashyq-collector help and --version', () => {
  it('gives each command its own help: its usage line, what it does and every option it takes, exit 0', async () => {
    const global = capture();
    expect(await main(['--help'], global.io)).toBe(0);
    const globalHelp = global.out.join('');
    // Every command has its entry in collector/cli/help.ts (what it does, its options described).
    expect([...HELP_COMMANDS].sort()).toEqual([...COMMANDS].sort());
    for (const command of COMMANDS) {
      const a = capture();
      expect(await main([command, '--help'], a.io), command).toBe(0);
      const help = a.out.join('');
      expect(help.startsWith(`Usage: ashyq-collector ${command}`), help).toBe(true);
      expect(help).not.toBe(globalHelp);
      expect(help).toMatch(/\n\nOptions:\n/);
      expect(help).toContain('--help ');
      const owned = Object.entries(OPTIONS).filter(([, o]) => (o.commands as readonly string[]).includes(command));
      for (const [name] of owned) expect(help, `${command} --${name}`).toMatch(new RegExp(`\\n  --${name}\\b`));
      // Not the other commands' options.
      for (const [name] of Object.entries(OPTIONS).filter(([, o]) => !(o.commands as readonly string[]).includes(command))) {
        expect(help, `${command} --${name}`).not.toMatch(new RegExp(`\\n  --${name}\\b`));
      }
      for (const line of help.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
      expect(a.err).toEqual([]);
      // `help COMMAND` and `-h` say the same.
      const b = capture();
      expect(await main(['help', command], b.io)).toBe(0);
      expect(b.out.join('')).toBe(help);
      const c = capture();
      expect(await main([command, '-h'], c.io)).toBe(0);
      expect(c.out.join('')).toBe(help);
    }
    const serve = capture();
    await main(['serve', '--help'], serve.io);
    expect(serve.out.join('')).toContain('listen.host and listen.port');
    const surge = capture();
    await main(['surge', '--help'], surge.io);
    expect(surge.out.join('')).toContain('       ashyq-collector surge --stop [--config FILE]');
  });

  it('keeps the global help for --help alone, and refuses help for an unknown command', async () => {
    for (const argv of [['--help'], ['help'], ['-h']]) {
      const a = capture();
      expect(await main(argv, a.io)).toBe(0);
      expect(a.out.join('')).toMatch(/^Usage: ashyq-collector <command> \[--config FILE\] \[options\]\n\nCommands:\n/);
      expect(a.out.join('')).toContain('`ashyq-collector <command> --help` shows');
      expect(a.out.join('')).toContain('--version       print the version');
    }
    for (const argv of [['frobnicate', '--help'], ['help', 'frobnicate']]) {
      const b = capture();
      expect(await main(argv, b.io)).toBe(2);
      expect(b.err.join('')).toMatch(/^ashyq-collector: unknown command frobnicate\n\nUsage: ashyq-collector <command>/);
      expect(b.out).toEqual([]);
    }
  });

  it('answers --version with the version of package.json', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const argv of [['--version'], ['serve', '--version']]) {
      const a = capture();
      expect(await main(argv, a.io)).toBe(0);
      expect(a.out.join('')).toBe(`${pkg.version}\n`);
      expect(a.err).toEqual([]);
    }
  });

  it('refuses unknown options and options without their value in its own words, followed by the command`s help', async () => {
    const a = capture();
    expect(await main(['serve', '--frobnicate'], a.io)).toBe(2);
    expect(a.err.join('')).toMatch(/^ashyq-collector: unknown option --frobnicate\n\nUsage: ashyq-collector serve \[--log text\|json\] \[--config FILE\]\n/);
    const b = capture();
    expect(await main(['--frobnicate'], b.io)).toBe(2);
    expect(b.err.join('')).toMatch(/^ashyq-collector: unknown option --frobnicate\n\nUsage: ashyq-collector <command>/);
    const c = capture();
    expect(await main(['events', '--since'], c.io)).toBe(2);
    expect(c.err.join('')).toMatch(/^ashyq-collector: --since needs a value\n\nUsage: ashyq-collector events /);
    const d = capture();
    expect(await main(['probes', '--json=yes'], d.io)).toBe(2);
    expect(d.err.join('')).toMatch(/^ashyq-collector: --json takes no value\n/);
    // A known option of another command is still refused, with the help of the command given.
    const e = capture();
    expect(await main(['probes', '--targets', 'youtube'], e.io)).toBe(2);
    expect(e.err.join('')).toMatch(/^ashyq-collector: --targets is an option of the surge command only\n\nUsage: ashyq-collector probes /);
  });
});

describe('ashyq-collector', () => {
  it('prints help and refuses bad usage and bad config with exit code 2', async () => {
    const a = capture();
    expect(await main(['--help'], a.io)).toBe(0);
    expect(a.out.join('')).toContain('Usage: ashyq-collector <command> [--config FILE]');
    const b = capture();
    expect(await main(['frobnicate'], b.io)).toBe(2);
    expect(b.err.join('')).toContain('unknown command frobnicate');
    const c = capture();
    expect(await main([], c.io)).toBe(2);
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, 'listen:\n  hots: 1.2.3.4\n');
    const d = capture();
    expect(await main(['serve', '--config', file], d.io)).toBe(2);
    expect(d.err.join('')).toContain(`${file}:2: listen.hots: unknown key`);
  });

  it('serves with a generated enrollment token kept in the data dir, and stops on its signal', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'collector.yaml');
    await writeFile(file, `data_dir: data\nlisten: { host: 127.0.0.1, port: 0 }\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n`);
    const run = async () => {
      const cap = capture();
      const stop = new AbortController();
      const done = main(['serve', '--config', file], { ...cap.io, env: {}, signal: stop.signal, deps: { asnLookup: () => null, log: false } });
      const url = await waitFor(() => /listening on (\S+)/.exec(cap.out.join(''))?.[1]);
      const health = await request(`${url}/healthz`);
      stop.abort();
      expect(await done).toBe(0);
      return { cap, health };
    };
    const first = await run();
    expect(first.health.status).toBe(200);
    const token = (await readFile(path.join(dir, 'data', 'enrollment-token'), 'utf8')).trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(first.cap.out.join('')).toContain(`generated an enrollment token (kept in ${path.join(dir, 'data', 'enrollment-token')}):\n  ${token}\n`);
    const second = await run();
    expect(second.cap.out.join('')).not.toContain('generated');
    expect(second.cap.out.join('')).toContain('stopped');
  });

  it('feeds the InfluxDB sink when influx is configured (a fake write API on 127.0.0.1)', async () => {
    const writes: Array<{ url: string; body: string }> = [];
    const fake = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        writes.push({ url: req.url ?? '', body: Buffer.concat(chunks).toString() });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const influxPort = (fake.address() as { port: number }).port;
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'collector.yaml');
    await writeFile(
      file,
      `data_dir: data\nlisten: { host: 127.0.0.1, port: 0 }\nenrollment_tokens: [cli-test-token-0123456789]\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n` +
        `influx: { url: "http://127.0.0.1:${influxPort}", token: t, org: o, bucket: b }\n`,
    );
    const cap = capture();
    const stop = new AbortController();
    const done = main(['serve', '--config', file], { ...cap.io, env: {}, signal: stop.signal, deps: { asnLookup: () => null, log: false } });
    try {
      const url = await waitFor(() => /listening on (\S+)/.exec(cap.out.join(''))?.[1]);
      const keys = newKeyPair();
      const reg = await request(`${url}/api/v1/probes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ enrollment_token: 'cli-test-token-0123456789', public_key: keys.publicKeyPem }),
      });
      const id = (reg.json() as { probe_id: string }).probe_id;
      const now = Date.now();
      const body = gzipSync(JSON.stringify({ probe_id: id, measurements: [makeMeasurement({ probeId: id, at: now - 1000 })] }));
      const res = await request(`${url}/api/v1/measurements`, { method: 'POST', headers: { ...signBatch(keys.privateKey, id, body, now) }, body });
      expect(res.status).toBe(200);
      const write = await waitFor(() => writes.find((w) => w.body.includes('youtube')));
      expect(write.url).toMatch(/^\/api\/v2\/write\?/);
      expect(write.url).toContain('bucket=b');
    } finally {
      stop.abort();
      expect(await done).toBe(0);
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  it('refuses a reindex (and a second server) while a server owns the data dir, and reindexes once it stopped', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'collector.yaml');
    await writeFile(file, `data_dir: data\nlisten: { host: 127.0.0.1, port: 0 }\nenrollment_tokens: [cli-test-token-0123456789]\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n`);
    const cap = capture();
    const stop = new AbortController();
    const done = main(['serve', '--config', file], { ...cap.io, env: {}, signal: stop.signal, deps: { asnLookup: () => null, log: false } });
    try {
      await waitFor(() => /listening on (\S+)/.exec(cap.out.join(''))?.[1]);
      for (const command of ['reindex', 'serve']) {
        const other = capture();
        expect(await main([command, '--config', file], { ...other.io, env: {}, deps: { asnLookup: () => null, log: false } }), command).toBe(1);
        expect(other.err.join(''), command).toContain(`${path.join(dir, 'data')}: another ashyq-collector (serve or reindex) is running with this directory`);
      }
    } finally {
      stop.abort();
      expect(await done).toBe(0);
    }
    const after = capture();
    expect(await main(['reindex', '--config', file], after.io)).toBe(0);
    expect(after.out.join('')).toContain('reindexed 0 archived records');
  });

  /** A port held by another listener, and a collector config asking for it. */
  async function configOnTakenPort() {
    const taken = await occupyPort();
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'collector.yaml');
    await writeFile(file, `data_dir: data\nlisten: { host: 127.0.0.1, port: ${taken.port} }\nenrollment_tokens: [cli-test-token-0123456789]\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n`);
    return { taken, file };
  }

  it('says in one line that the port is taken (the address, the key to change), exits 1, and leaves the data dir free', async () => {
    const { taken, file } = await configOnTakenPort();
    try {
      const cap = capture();
      expect(await main(['serve', '--config', file], { ...cap.io, env: {}, deps: { asnLookup: () => null, log: false } })).toBe(1);
      expect(cap.err.join('')).toBe(
        `ashyq-collector: cannot listen on 127.0.0.1:${taken.port}: port ${taken.port} is taken by another process (another ashyq-collector?): ` +
          'stop it, or set listen.port in the config (--config FILE) to a free port\n',
      );
      expect(cap.out.join('')).not.toContain('listening on');
    } finally {
      await taken.close();
    }
    // The failed server released the data dir and its store: the port free, the next one serves.
    const cap = capture();
    const stop = new AbortController();
    const done = main(['serve', '--config', file], { ...cap.io, env: {}, signal: stop.signal, deps: { asnLookup: () => null, log: false } });
    expect(await waitFor(() => /listening on (\S+)/.exec(cap.out.join(''))?.[1])).toBe(`http://127.0.0.1:${taken.port}`);
    stop.abort();
    expect(await done).toBe(0);
  });

  it('the real command: a taken port gives one line on stderr, no stack trace, exit status 1', async () => {
    const { taken, file } = await configOnTakenPort();
    const bin = fileURLToPath(new URL('../bin/ashyq-collector.js', import.meta.url));
    try {
      const err = await promisify(execFile)(process.execPath, [bin, 'serve', '--config', file], { timeout: 60_000 }).then(
        () => undefined,
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      expect(err?.code).toBe(1);
      const lines = err!.stderr.trimEnd().split('\n');
      // Only the IP database's line before it.
      expect(lines.at(-1)).toBe(
        `ashyq-collector: cannot listen on 127.0.0.1:${taken.port}: port ${taken.port} is taken by another process (another ashyq-collector?): ` +
          'stop it, or set listen.port in the config (--config FILE) to a free port',
      );
      expect(err!.stderr).not.toMatch(/\n\s+at /);
      expect(err!.stderr).not.toContain('EADDRINUSE');
      expect(lines.every((l) => l.startsWith('ashyq-collector: '))).toBe(true);
      expect(err!.stdout).not.toContain('listening on');
    } finally {
      await taken.close();
    }
  }, 90_000);

  it('runs reindex on an empty data dir', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'collector.yaml');
    await writeFile(file, `data_dir: ${JSON.stringify(dir)}\n`);
    const cap = capture();
    expect(await main(['reindex', '--config', file], cap.io)).toBe(0);
    expect(cap.out.join('')).toContain('reindexed 0 archived records, 0 distinct measurements');
  });
});
