// Runs a real database server binary as a child process for one test file: loopback port, temp dir, health wait, stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Where a server binary is, or why a test file cannot have it. */
export interface BinaryLookup {
  /** Human name, e.g. "victoria-metrics". */
  name: string;
  /** Absolute path when found. */
  path: string | null;
  /** True when the test file should skip (binary missing and not running under CI). */
  skip: boolean;
  /** What is missing and how to install it (empty when found). */
  message: string;
}

export function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Find a server binary: `envVar` when set, else /usr/bin/<name>, else the PATH. When it is missing
 * the tests that need it skip with a message, except under CI (process.env.CI set), where they must
 * fail: `start()` of the service then throws that message.
 */
export function findBinary(name: string, envVar: string, aptPackage: string): BinaryLookup {
  const override = process.env[envVar];
  const candidates = override !== undefined && override !== '' ? [override] : [
    path.join('/usr/bin', name),
    ...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '').map((d) => path.join(d, name)),
  ];
  const found = candidates.find(executable) ?? null;
  if (found !== null) return { name, path: found, skip: false, message: '' };
  const message =
    `${name} not found (looked at ${candidates.slice(0, 3).join(', ')}${candidates.length > 3 ? ', ...' : ''}); ` +
    `install it with \`apt-get install -y ${aptPackage}\` or set ${envVar} to the binary`;
  const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
  if (!inCi) console.warn(`SKIPPING tests that need a real ${name}: ${message}`);
  return { name, path: null, skip: !inCi, message };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ServerProcessSpec {
  name: string;
  binary: string;
  args: string[];
  /** URL answering 2xx once the server is ready. */
  healthUrl: string;
  startTimeoutMs?: number;
}

/** One running child process of a server; `stop()` ends it (SIGTERM, then SIGKILL after a grace time). */
export class ServerProcess {
  private readonly output: string[] = [];
  private exitCode: number | null | undefined = undefined;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly spec: ServerProcessSpec,
    private readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 200) this.output.splice(0, this.output.length - 200);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal !== null ? -1 : null);
        resolve();
      });
      child.once('error', (err) => {
        this.output.push(String(err));
        this.exitCode = -1;
        resolve();
      });
    });
  }

  /** Spawn and wait until the health URL answers 2xx; rejects with the server's output when it does not. */
  static async start(spec: ServerProcessSpec): Promise<ServerProcess> {
    const child = spawn(spec.binary, spec.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new ServerProcess(spec, child);
    const deadline = Date.now() + (spec.startTimeoutMs ?? 30_000);
    for (;;) {
      if (server.exitCode !== undefined) {
        throw new Error(`${spec.name} exited during start (code ${server.exitCode}):\n${server.log()}`);
      }
      try {
        const response = await fetch(spec.healthUrl, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.ok) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`${spec.name} did not become healthy at ${spec.healthUrl} in time:\n${server.log()}`);
      }
      await sleep(50);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The last lines the server printed. */
  log(): string {
    return this.output.join('').split('\n').slice(-40).join('\n');
  }

  /** Graceful stop (SIGTERM); SIGKILL when it has not exited after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
