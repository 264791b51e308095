// Running the lab's commands: plain ones, ones inside a lab namespace, and long-lived services with pid files.
import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { AshyqError } from '../../common/errors.js';

/** A lab command that failed: the lab cannot be built or changed (never a measured network failure). */
export class LabCommandError extends AshyqError {
  readonly command: string;
  readonly stderr: string;
  constructor(command: string, problem: string, stderr: string) {
    super('ASHYQ_ERR_LAB_COMMAND', `${command}: ${problem}${stderr.trim() ? `\n${stderr.trim()}` : ''}`);
    this.command = command;
    this.stderr = stderr;
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  /** Resolve with the exit code instead of throwing when it is not 0. */
  allowFailure?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

/** The environment with the system directories on PATH (ip, iptables, nginx, dnsmasq live in /usr/sbin). */
export function labEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const path = (env['PATH'] ?? '').split(':').filter((p) => p !== '');
  for (const dir of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!path.includes(dir)) path.push(dir);
  return { ...env, PATH: path.join(':') };
}

/** Run a command and wait for it; throws LabCommandError on a non-zero exit unless allowFailure. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const text = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, env: labEnv(options.env) },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
        if (code !== 0 && !options.allowFailure) {
          reject(new LabCommandError(text, err?.message.split('\n')[0] ?? `exit ${code}`, stderr));
          return;
        }
        resolve({ stdout, stderr, code });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Run a command inside a namespace (`ip netns exec`). */
export function runIn(ns: string, cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], options);
}

/**
 * Start a long-lived service inside a namespace, detached from this process (so `npm run lab -- up`
 * can exit and leave the lab running), output to `log`, its pid written to `pidFile`.
 */
export async function startService(ns: string, cmd: string, args: readonly string[], files: { log: string; pidFile: string }, env?: NodeJS.ProcessEnv): Promise<number> {
  const out = openSync(files.log, 'a');
  try {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      detached: true,
      stdio: ['ignore', out, out],
      env: labEnv(env),
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new LabCommandError(`${cmd} ${args.join(' ')}`, err.message, '')));
      child.once('spawn', () => resolve(child.pid as number));
    });
    child.unref();
    await writeFile(files.pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(out);
  }
}

/** Whether a process is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stop the service whose pid is in `pidFile` (TERM, then KILL after `graceMs`) and remove the file. */
export async function stopService(pidFile: string, graceMs = 2000): Promise<void> {
  let text: string;
  try {
    text = await readFile(pidFile, 'utf8');
  } catch {
    return;
  }
  const pid = Number(text.trim());
  if (Number.isInteger(pid) && pid > 1) await stopPid(pid, graceMs);
  await rm(pidFile, { force: true });
}

/** TERM a process by id, then KILL it if it is still there after `graceMs`. */
export async function stopPid(pid: number, graceMs = 2000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (alive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Wait until `check` resolves true, polling; throws LabCommandError naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000, logFile?: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) {
      const log = logFile === undefined ? '' : await readFile(logFile, 'utf8').catch(() => '');
      throw new LabCommandError(what, `not ready after ${timeoutMs} ms`, log.slice(-2000));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
