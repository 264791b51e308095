// The daemon as a real process through a collector outage, and through SIGTERM with a run in flight.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool } from '../probe/spool/spool.js';
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

describe('a collector that is unreachable for a long stretch', () => {
  it('gets everything once it is back, nothing twice', async () => {
    lab = await startDaemonLab({ targets: 6 });
    const l = lab;
    await l.writeConfig();
    // The collector is down from the start: no registration, no target list, no uploads.
    const daemon = await l.spawnDaemon({ schedule: { interval_minutes: 0.03 } });
    await daemon.waitForTaken(8 * 5, 60_000);
    expect(daemon.lines.some((line) => /upload failed \(\d+ in a row/.test(line))).toBe(true);
    expect(daemon.lines.some((line) => /registration with the collector failed/.test(line))).toBe(true);
    const during = await eventually(async () => {
      const s = await status(l);
      return s.runs >= 5 && s.upload !== null && s.upload.consecutiveFailures >= 2 ? s : null;
    }, 20_000, 'a status with failed uploads');
    expect(during.upload?.lastUploadAt).toBeNull();
    expect(during.spool.count).toBe(during.taken);
    expect(during.targets.source).toBe('local');

    await l.startCollector();
    const archived = await eventually(
      async () => {
        const ids = await l.archivedIds();
        const taken = daemon.taken();
        return taken.length > 0 && taken.every((id) => ids.includes(id)) ? ids : null;
      },
      30_000,
      'every taken measurement archived',
    );
    expect(new Set(archived).size).toBe(archived.length);
    const metrics = await l.metrics();
    // Nothing was sent twice: no duplicate and no rejected item.
    expect(metricValue(metrics, 'ashyq_ingest_measurements_total', '{status="duplicate"}') ?? 0).toBe(0);
    expect(metricValue(metrics, 'ashyq_ingest_measurements_total', '{status="rejected"}') ?? 0).toBe(0);
    // Back in touch: the collector's list replaces the local one, the network is the collector's view.
    const after = await eventually(async () => {
      const s = await status(l);
      // Written after every upload attempt: wait for the one that reports the backlog sent.
      return s.upload?.lastUploadAt && s.upload.consecutiveFailures === 0 && s.upload.uploaded >= 40 ? s : null;
    }, 20_000, 'a status after the backlog was uploaded');
    expect(after.upload?.uploaded).toBeGreaterThanOrEqual(40);

    daemon.proc.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 150_000);
});

describe('SIGTERM', () => {
  it('stops within the bound with a run in flight, exits 0, and leaves every taken measurement in the spool', async () => {
    // Two targets stall their TLS handshakes until the 8 s step timeout: a run lasts well over 8 s.
    lab = await startDaemonLab({ targets: 4, stalled: 2 });
    const l = lab;
    await l.writeConfig({ timeoutMs: 8000, collector: false });
    const daemon = await l.spawnDaemon({ schedule: { interval_minutes: 0.02 }, stopGraceMs: 1500 });
    // The first run ends after the stalls (about 8 to 16 s); its measurements are taken, then a second run starts.
    await daemon.waitForTaken(6, 60_000);
    await daemon.waitForLine((line) => line.includes('taken') && line.includes('canary-international'), 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    const takenBefore = daemon.taken().length;
    const sent = Date.now();
    daemon.proc.kill('SIGTERM');
    const end = await daemon.exited;
    expect(end.code).toBe(0);
    expect(end.signal).toBeNull();
    // Grace 1.5 s for the run in flight, then the abort: well under the 10 s a unit allows for it.
    expect(end.at - sent).toBeLessThan(5000);
    expect(daemon.lines.some((line) => line.includes('the run in flight was aborted'))).toBe(true);
    expect(daemon.taken().length).toBe(takenBefore);

    const s = await status(l);
    expect(s.state).toBe('stopped');
    expect(s.taken).toBe(takenBefore);
    // Flushed: every measurement taken is on disk (no collector here, so none left the spool).
    const spool = await Spool.inspect(path.join(l.stateDir, 'spool'), { capBytes: 50 * 1024 * 1024 });
    expect(spool.count).toBe(takenBefore);
    const onDisk = await Spool.open(path.join(l.stateDir, 'spool'), { capBytes: 50 * 1024 * 1024, clock: { now: Date.now, monotonic: () => performance.now() } });
    const ids = (await onDisk.pending(1000)).map((m) => m.id);
    await onDisk.close();
    expect(ids.sort()).toEqual([...daemon.taken()].sort());
  }, 120_000);
});
