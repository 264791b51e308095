// Crash safety of the spool with real processes: a child appends and acknowledges until SIGKILL at a random moment, over many rounds.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import type { Measurement } from '../contract/measurement.js';
import { CORRUPT_DIR, Spool } from '../probe/spool/spool.js';
import { digest } from './fixtures/spool/measurement.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = path.join(ROOT, 'test', 'fixtures', 'spool', 'crash-child.ts');

interface ChildOptions {
  capBytes: number;
  segmentBytes: number;
  concurrency: number;
  bigEvery: number;
  bigBytes: number;
  ack: string[];
}

interface ChildRun {
  opened: boolean;
  /** `A` lines in order: appends that resolved. */
  appended: Array<{ id: string; digest: string }>;
  /** Ids of `K` lines: acknowledgements that resolved. */
  acked: string[];
}

/** A small seeded PRNG (mulberry32) so that a failing round can be replayed with SPOOL_CRASH_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = Number(process.env.SPOOL_CRASH_SEED ?? Date.now() % 1_000_000);

/**
 * Run the child on `dir` and SIGKILL it: `afterOpenMs` after it reported the spool open, or
 * `afterSpawnMs` after the spawn (possibly while it is still starting or recovering).
 */
function runChild(dir: string, options: ChildOptions, kill: { afterOpenMs: number } | { afterSpawnMs: number }): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, JSON.stringify(options)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: ChildRun = { opened: false, appended: [], acked: [] };
    let pending = '';
    let stderr = '';
    const killNow = () => child.kill('SIGKILL');
    const guard = setTimeout(killNow, 20_000);
    if ('afterSpawnMs' in kill) setTimeout(killNow, kill.afterSpawnMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!; // an incomplete last line is not a report
      for (const line of lines) {
        const [kind, a, b] = line.split(' ');
        if (kind === 'O') {
          run.opened = true;
          if ('afterOpenMs' in kill) setTimeout(killNow, kill.afterOpenMs);
        } else if (kind === 'A' && a !== undefined && b !== undefined) run.appended.push({ id: a, digest: b });
        else if (kind === 'K' && a !== undefined) run.acked.push(...a.split(','));
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL') reject(new Error(`crash child ended by itself (code ${code}, signal ${signal}):\n${stderr}`));
      else if (!run.opened && 'afterOpenMs' in kill) reject(new Error(`crash child never opened the spool:\n${stderr}`));
      else resolve(run);
    });
  });
}

/** Open a copy of the spool (leaving the original for the next child to recover) and read everything. */
async function inspectCopy(dir: string, scratch: string, options: ChildOptions): Promise<{ pending: Measurement[]; spool: Spool | null }> {
  if (!existsSync(dir)) return { pending: [], spool: null }; // killed before the child created it
  const copy = path.join(scratch, `copy-${Date.now()}-${Math.floor(Math.random() * 1e9)}`);
  await cp(dir, copy, { recursive: true });
  const spool = await Spool.open(copy, { capBytes: options.capBytes, segmentBytes: options.segmentBytes, clock: systemClock });
  const pending = await spool.pending(1_000_000);
  await spool.close();
  await rm(copy, { recursive: true, force: true });
  return { pending, spool };
}

let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'ashyq-spool-crash-'));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('Spool under SIGKILL (real child processes)', () => {
  it('every append reported as done survives, exactly once and unchanged; every reported ack holds; only torn tails are set aside', async () => {
    const random = prng(SEED);
    const dir = path.join(scratch, 'appends');
    const options: ChildOptions = { capBytes: 512 * 1024 * 1024, segmentBytes: 256 * 1024, concurrency: 3, bigEvery: 8, bigBytes: 1024 * 1024, ack: [] };
    /** What must be pending: id → digest of its JSON. */
    const expected = new Map<string, string>();
    const ackedForGood = new Set<string>();
    let tornSeen = 0;
    let totalAppended = 0;
    const rounds = 20;
    for (let round = 0; round < rounds; round++) {
      const where = `seed ${SEED}, round ${round}`;
      // Give the child about half of what is pending to acknowledge while it appends.
      const ack = [...expected.keys()].filter(() => random() < 0.5);
      if (ack.length > 0) ack.push('01HXDA9V40SP0000000UNKNOWN'); // unknown ids are ignored
      const kill = random() < 0.2 ? { afterSpawnMs: Math.floor(random() * 700) } : { afterOpenMs: Math.floor(random() * 400) };
      const run = await runChild(dir, { ...options, ack }, kill);
      totalAppended += run.appended.length;
      for (const a of run.appended) {
        expect(expected.has(a.id), `${where}: id ${a.id} appended twice`).toBe(false);
        expected.set(a.id, a.digest);
      }
      for (const id of run.acked) {
        expected.delete(id);
        ackedForGood.add(id);
      }

      const { pending, spool } = await inspectCopy(dir, scratch, options);
      const seen = new Map<string, string>();
      for (const m of pending) {
        expect(seen.has(m.id), `${where}: ${m.id} pending twice`).toBe(false);
        seen.set(m.id, digest(m));
      }
      for (const [id, d] of expected) {
        if (!seen.has(id) && ack.includes(id)) {
          expected.delete(id); // its ack became durable just before the kill, unreported
          continue;
        }
        expect(seen.get(id), `${where}: appended ${id} is missing or changed`).toBe(d);
      }
      for (const id of ackedForGood) expect(seen.has(id), `${where}: acknowledged ${id} came back`).toBe(false);
      const extra = [...seen.keys()].filter((id) => !expected.has(id));
      // Durable but unreported: at most one per concurrent appender.
      expect(extra.length, `${where}: unexpected pending ${extra.join(',')}`).toBeLessThanOrEqual(options.concurrency);
      for (const id of extra) expected.set(id, seen.get(id)!);

      const reasons = spool?.setAside.map((s) => s.reason) ?? [];
      expect(reasons.filter((r) => !/: torn tail: /.test(r)), `${where}: ${reasons.join('; ')}`).toEqual([]);
      expect(reasons.filter((r) => /\.seg at /.test(r)).length, where).toBeLessThanOrEqual(1);
      expect(reasons.filter((r) => /\.ack at /.test(r)).length, where).toBeLessThanOrEqual(1);
      tornSeen += reasons.length;
    }
    // The children did real work; the original spool (recovered in place by the children) opens
    // with exactly what the copies showed, and holds nothing but torn data aside.
    expect(totalAppended).toBeGreaterThan(rounds);
    expect(ackedForGood.size).toBeGreaterThan(0);
    const final = await Spool.open(dir, { capBytes: options.capBytes, segmentBytes: options.segmentBytes, clock: systemClock });
    const finalPending = await final.pending(1_000_000);
    await final.close();
    expect(new Map(finalPending.map((m) => [m.id, digest(m)]))).toEqual(expected);
    const aside = await readdir(path.join(dir, CORRUPT_DIR));
    expect(aside.filter((n) => !n.endsWith('.torn'))).toEqual([]);
    console.info(`spool crash test (seed ${SEED}): ${rounds} kills, ${totalAppended} appends reported, ${ackedForGood.size} acks reported, ${tornSeen} torn tails found and set aside`);
  }, 240_000);

  it('under a disk cap the newest records survive the kills, and the drop count is exact', async () => {
    const random = prng(SEED + 1);
    const dir = path.join(scratch, 'capped');
    // One appender, so that the order of the A lines is the order on disk.
    const options: ChildOptions = { capBytes: 96 * 1024, segmentBytes: 16 * 1024, concurrency: 1, bigEvery: 0, bigBytes: 0, ack: [] };
    const printed: string[] = [];
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      const where = `seed ${SEED + 1}, round ${round}`;
      const run = await runChild(dir, options, { afterOpenMs: 100 + Math.floor(random() * 400) });
      printed.push(...run.appended.map((a) => a.id));
      const { pending, spool } = await inspectCopy(dir, scratch, options);
      if (spool === null) {
        expect(printed, where).toEqual([]);
        continue;
      }
      const stats = spool.stats();
      expect(stats.bytes, where).toBeLessThanOrEqual(options.capBytes);
      const pendingIds = pending.map((m) => m.id);
      const kept = new Set(pendingIds);
      const survivors = printed.filter((id) => kept.has(id));
      // Whole oldest segments go first: what is left of the reported appends is their newest part.
      expect(survivors, where).toEqual(printed.slice(printed.length - survivors.length));
      // Each round may leave one durable append it did not live to report.
      expect(pendingIds.length - survivors.length, where).toBeLessThanOrEqual(round + 1);
      const lost = printed.length - survivors.length;
      expect(stats.dropped, where).toBeGreaterThanOrEqual(lost);
      expect(stats.dropped, where).toBeLessThanOrEqual(lost + round + 1);
      expect(spool.setAside.every((s) => /: torn tail: /.test(s.reason)), where).toBe(true);
    }
    expect(printed.length * 2000).toBeGreaterThan(options.capBytes); // the cap was really reached
  }, 240_000);
});
