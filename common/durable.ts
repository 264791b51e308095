// Durable file operations: full positional writes, directory fsync, atomic replace, create-once.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** Files holding measurements, keys or state are readable by their owner only unless a caller says otherwise. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

/** Write all of `data` at `position` (a short write is continued, never silently accepted). */
export async function writeFully(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

/** Make a directory's entries (created, renamed, removed files) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replace `dir/name` by `data` so that a crash at any instant leaves either the old or the new
 * content: write a temporary file, fsync it, rename it over the target, fsync the directory.
 */
export async function replaceFile(
  dir: string,
  name: string,
  data: Buffer,
  options: { mode?: number; /** Ends the temporary file's name; give a unique one where several processes may write. */ tempSuffix?: string } = {},
): Promise<void> {
  const target = path.join(dir, name);
  const temp = `${target}${options.tempSuffix ?? '.tmp'}`;
  const handle = await open(temp, 'w', options.mode ?? FILE_MODE);
  try {
    await writeFully(handle, data, 0);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Create `dir/name` with `data` (never overwriting), fsynced; the directory entry is fsynced too. */
export async function createFile(dir: string, name: string, data: Buffer): Promise<void> {
  const handle = await open(path.join(dir, name), 'wx', FILE_MODE);
  try {
    await writeFully(handle, data, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsyncDir(dir);
}
