// The machine setup and uninstall act on: systemd, the service user, ownership; injected so that they are tested without a system manager.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface HostSystem {
  /** Whether systemd manages services on this machine (it is PID 1). */
  systemd(): boolean;
  /** Run systemctl; never throws (a missing command is code 127). */
  systemctl(args: readonly string[]): Promise<{ code: number; output: string }>;
  /** The uid and gid of a system user, or null when there is none. */
  serviceUser(name: string): Promise<{ uid: number; gid: number } | null>;
  isRoot(): boolean;
  /** chown a directory and everything in it. */
  chownTree(dir: string, uid: number, gid: number): Promise<void>;
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(p, uid, gid);
    else await chown(p, uid, gid).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

export function systemHost(): HostSystem {
  return {
    systemd: () => existsSync('/run/systemd/system'),
    systemctl: (args) =>
      new Promise((resolve) => {
        execFile('systemctl', [...args], { timeout: 60_000 }, (err, stdout, stderr) => {
          const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127;
          resolve({ code, output: `${stdout}${stderr}` });
        });
      }),
    serviceUser: async (name) => {
      const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
      for (const line of passwd.split('\n')) {
        const f = line.split(':');
        if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
      }
      return null;
    },
    isRoot: () => process.getuid?.() === 0,
    chownTree,
  };
}
