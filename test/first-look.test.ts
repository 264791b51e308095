// `npm start` (scripts/first-look.mjs) when its collector cannot be its own: the port taken by a real socket on loopback, or the data directory held; it says so and exits non-zero.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import { tempDir } from './fixtures/collector/helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A checkout of its own for the script (a copy of it, bin linked), so its ./var is a temporary one. */
async function checkout(): Promise<string> {
  const at = await tempDir('ashyq-first-look-');
  await mkdir(path.join(at, 'scripts'));
  await copyFile(path.join(root, 'scripts/first-look.mjs'), path.join(at, 'scripts/first-look.mjs'));
  await symlink(path.join(root, 'bin'), path.join(at, 'bin'));
  return at;
}

function firstLook(env: Record<string, string>, at: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(at, 'scripts/first-look.mjs')], { cwd: at, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    // Should it ever get as far as starting the two, stop them (SIGINT is its Ctrl-C).
    const guard = setTimeout(() => child.kill('SIGINT'), 20_000);
    child.once('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A real socket on a free loopback port, as another process (or another collector) holds it; `answer` makes it an HTTP server answering /healthz like a collector. */
async function occupy(answer: boolean): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => {
    if (!answer) return void socket.destroy();
    socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\nconnection: close\r\n\r\n{"status":"ok"}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('npm start', () => {
  it.each([
    [false, 'another ashyq collector?'],
    [true, 'an ashyq collector answers there: another `npm start`?'],
  ])('with its port taken (an HTTP answer: %s) says which port and what to do, starts nothing, exits 1', async (answer, who) => {
    const taken = await occupy(answer);
    const at = await checkout();
    try {
      const r = await firstLook({ ASHYQ_PORT: String(taken.port) }, at);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `npm start: port ${taken.port} on 127.0.0.1 is taken by another process (${who}); nothing was started.\n` +
          `  Stop that process (Ctrl-C where it runs; \`ss -ltnp 'sport = :${taken.port}'\` names it) and run npm start again,\n` +
          `  or use another port: ASHYQ_PORT=${taken.port + 1} npm start\n`,
      );
      expect(r.stdout).toBe('');
      expect(existsSync(path.join(at, 'var'))).toBe(false);
    } finally {
      await taken.close();
      await rm(at, { recursive: true, force: true });
    }
  }, 30_000);

  it('refuses an ASHYQ_PORT that is not a port, exit 2', async () => {
    const at = await checkout();
    try {
      const r = await firstLook({ ASHYQ_PORT: '84800' }, at);
      expect(r).toEqual({ code: 2, stdout: '', stderr: 'npm start: ASHYQ_PORT must be a port number 1..65535, got "84800"\n' });
    } finally {
      await rm(at, { recursive: true, force: true });
    }
  });

  it('tells that its own collector did not start (here: the data directory held by another one) and stops, exit 1', async () => {
    const at = await checkout();
    try {
      const free = await occupy(false);
      await free.close();
      // Another collector holds var/collector (listening elsewhere).
      const file = path.join(at, 'other.yaml');
      await writeFile(file, `data_dir: ${JSON.stringify(path.join(at, 'var/collector'))}\nlisten: { host: 127.0.0.1, port: 0 }\nenrollment_tokens: [first-look-test-token-0123]\n`);
      const out: string[] = [];
      const stop = new AbortController();
      const other = main(['serve', '--config', file], { stdout: { write: (t: string) => out.push(t) }, stderr: { write: () => {} }, env: {}, signal: stop.signal, deps: { asnLookup: () => null, log: false } });
      try {
        for (let i = 0; i < 200 && !out.join('').includes('listening on'); i++) await new Promise((r) => setTimeout(r, 50));
        expect(out.join('')).toContain('listening on');
        const r = await firstLook({ ASHYQ_PORT: String(free.port) }, at);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`[collector] ashyq-collector: ${path.join(at, 'var/collector')}: another ashyq-collector (serve or reindex) is running with this directory`);
        expect(r.stderr).toMatch(/\nnpm start: the collector did not start \(it exited with 1; its lines above say why\)\n$/);
        expect(r.stdout).not.toContain('ashyq is running');
        expect(r.stderr).not.toContain('[probe]');
      } finally {
        stop.abort();
        expect(await other).toBe(0);
      }
    } finally {
      await rm(at, { recursive: true, force: true });
    }
  }, 60_000);
});
