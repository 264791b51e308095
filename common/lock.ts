// One process per state directory: a Unix socket in the directory that the kernel releases when the process dies.
//
// A PID file cannot tell a crashed daemon from an unrelated process that got its PID after a
// reboot; a listening socket can: connecting to a stale one is refused, and is then replaced.
// A state directory whose path is too long for a socket file (about 100 bytes) gets a socket in
// Linux's abstract namespace instead, named after the directory.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { StateLockedError } from './errors.js';

export const LOCK_SOCKET = 'daemon.sock';

/** Who locks a directory: the socket's file name, the prefix of its abstract name, and how errors name the holder. */
export interface LockOwner {
  socket: string;
  abstractPrefix: string;
  holder: string;
}

/** The probe daemon's lock on its state directory. */
export const PROBE_DAEMON_LOCK: LockOwner = { socket: LOCK_SOCKET, abstractPrefix: 'ashyq-probe-', holder: 'ashyq-probe daemon' };
/** sun_path holds 108 bytes on Linux, 104 on macOS, the terminating NUL included. */
const MAX_SOCKET_PATH = 100;

/** Where the lock of a state directory listens: its socket file, or an abstract name for a long path on Linux. */
export function lockAddress(stateDir: string, owner: LockOwner = PROBE_DAEMON_LOCK): { address: string; file: boolean } {
  const file = path.join(path.resolve(stateDir), owner.socket);
  if (Buffer.byteLength(file) <= MAX_SOCKET_PATH || process.platform !== 'linux') return { address: file, file: true };
  const digest = createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 40);
  return { address: `\0${owner.abstractPrefix}${digest}`, file: false };
}

export interface StateLock {
  release(): Promise<void>;
}

/** Whether a daemon listens on the socket: true, false, or the error code when it cannot be told (EACCES). */
function probe(file: string): Promise<boolean | string> {
  return new Promise((resolve) => {
    const socket = net.connect(file);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? false : (err.code ?? 'unknown'));
    });
  });
}

async function connects(file: string): Promise<boolean> {
  return (await probe(file)) !== false;
}

/**
 * Whether a daemon holds the state directory now; null when this user cannot tell (the socket is
 * the daemon user's): then the caller falls back to the PID.
 */
export async function stateDirLocked(stateDir: string, owner: LockOwner = PROBE_DAEMON_LOCK): Promise<boolean | null> {
  const r = await probe(lockAddress(stateDir, owner).address);
  return typeof r === 'boolean' ? r : null;
}

function listen(server: net.Server, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: file, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Take the state directory for this process; StateLockedError when another process of the same owner holds it. */
export async function lockStateDir(stateDir: string, owner: LockOwner = PROBE_DAEMON_LOCK): Promise<StateLock> {
  const { address: file, file: onDisk } = lockAddress(stateDir, owner);
  // Nobody needs to talk to it: every connection is closed at once.
  const server = net.createServer((socket) => socket.destroy());
  try {
    await listen(server, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    if (!onDisk || (await connects(file))) throw new StateLockedError(stateDir, owner.holder);
    // Left by a daemon that died without closing it.
    await rm(file, { force: true });
    try {
      await listen(server, file);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new StateLockedError(stateDir, owner.holder);
      throw again;
    }
  }
  server.unref();
  return {
    release: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
