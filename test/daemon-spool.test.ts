// The daemon's spool in real processes: a damaged spool file is set aside and the rest delivered; a full disk cap drops the oldest, counted and reported.
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../probe/daemon/status.js';
import { eventually, metricValue, startDaemonLab, type DaemonLab } from './daemon-lab.js';

let lab: DaemonLab | null = null;

afterEach(async () => {
  await lab?.close();
  lab = null;
});

async function status(l: DaemonLab): Promise<DaemonStatus> {
  return JSON.parse(await readFile(path.join(l.stateDir, 'status.json'), 'utf8')) as DaemonStatus;
}

describe('a corrupted spool file', () => {
  it('is set aside and reported at start; every other measurement is delivered', async () => {
    lab = await startDaemonLab({ targets: 4 });
    const l = lab;
    // Measure without a collector: everything stays in the spool.
    await l.writeConfig({ collector: false });
    const first = await l.spawnDaemon({ schedule: { interval_minutes: 0.02 } });
    await first.waitForTaken(18, 30_000);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const taken = first.taken();

    // Damage one record in the middle of a segment (a bit flip inside its JSON), and leave a torn frame at the end.
    const spoolDir = path.join(l.stateDir, 'spool');
    const segments = (await readdir(spoolDir)).filter((f) => f.endsWith('.seg')).sort();
    const victim = taken[7]!;
    let damaged = false;
    for (const seg of segments) {
      const file = path.join(spoolDir, seg);
      const bytes = await readFile(file);
      const at = bytes.indexOf(`"id":"${victim}"`);
      if (at < 0) continue;
      bytes[at + 40] = bytes[at + 40]! ^ 0x01;
      await writeFile(file, bytes);
      await appendFile(path.join(spoolDir, segments.at(-1)!), Buffer.from([0x00, 0x61, 0x73, 0x71, 0x00, 0x00, 0x10, 0x00, 1, 2, 3, 4, 0x7b]));
      damaged = true;
    }
    expect(damaged).toBe(true);

    await l.startCollector();
    await l.writeConfig();
    const second = await l.spawnDaemon({ schedule: { interval_minutes: 60 } });
    await second.waitForLine((line) => line.includes('SPOOL DAMAGE SET ASIDE'), 20_000);
    const wanted = taken.filter((id) => id !== victim);
    const archived = await eventually(
      async () => {
        const ids = await l.archivedIds();
        return wanted.every((id) => ids.includes(id)) ? ids : null;
      },
      30_000,
      'every intact measurement archived',
    );
    expect(archived).not.toContain(victim);
    expect(new Set(archived).size).toBe(archived.length);
    const s = await status(l);
    expect(s.spool.set_aside_at_start.length).toBeGreaterThanOrEqual(2);
    expect(s.spool.setAside).toBeGreaterThanOrEqual(2);
    expect(s.last_error?.message).toContain('set aside');
    const corrupt = await readdir(path.join(spoolDir, 'corrupt'));
    expect(corrupt.length).toBeGreaterThanOrEqual(2);
    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 120_000);
});

describe('a full disk cap', () => {
  it('drops the oldest measurements, counts them in the status, and reports them to the collector', async () => {
    lab = await startDaemonLab({ targets: 6 });
    const l = lab;
    await l.writeConfig({ collector: false });
    const capBytes = 48 * 1024;
    const first = await l.spawnDaemon({ schedule: { interval_minutes: 0.02 }, spoolCapBytes: capBytes });
    // Several times what fits under the cap.
    await first.waitForTaken(80, 60_000);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const taken = first.taken();

    const s = await status(l);
    expect(s.taken).toBe(taken.length);
    expect(s.spool.capBytes).toBe(capBytes);
    expect(s.spool.bytes).toBeLessThanOrEqual(capBytes);
    expect(s.spool.dropped).toBeGreaterThan(0);
    // Policy: nothing vanishes uncounted.
    expect(s.spool.dropped + s.spool.count).toBe(taken.length);
    expect(s.spool.firstDroppedAt).not.toBeNull();

    await l.startCollector();
    await l.writeConfig();
    // Restarted with room to spare, so that its own first run cannot push out what waits for upload.
    const second = await l.spawnDaemon({ schedule: { interval_minutes: 60 } });
    const kept = await eventually(
      async () => {
        const ids = await l.archivedIds();
        const fromFirst = ids.filter((id) => taken.includes(id));
        return fromFirst.length === s.spool.count ? fromFirst : null;
      },
      30_000,
      'the measurements the cap kept archived',
    );
    // Oldest first: what was dropped is exactly the start of the sequence taken.
    const dropped = taken.slice(0, s.spool.dropped);
    expect(kept.sort()).toEqual(taken.slice(s.spool.dropped).sort());
    for (const id of dropped) expect(kept).not.toContain(id);
    // The overflow report reached the collector with the count.
    const metrics = await eventually(async () => {
      const m = await l.metrics();
      return (metricValue(m, 'ashyq_probe_spool_dropped_total') ?? 0) > 0 ? m : null;
    }, 20_000, 'the spool-overflow report');
    expect(metricValue(metrics, 'ashyq_probe_spool_dropped_total')).toBe(s.spool.dropped);
    expect(metricValue(metrics, 'ashyq_probe_spool_overflow_reports_total')).toBe(1);
    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 150_000);
});
