// Crash safety with real processes: kill -9 the daemon in the middle of bursts of measurements, restart it, and count what reaches the collector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startDaemonLab, type DaemonLab } from './daemon-lab.js';

let lab: DaemonLab;

beforeAll(async () => {
  // 14 measurements per run: a burst of appends (each fsynced) that a kill can land in.
  lab = await startDaemonLab({ targets: 12 });
});

afterAll(async () => {
  await lab.close();
});

function countBy(ids: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

describe('kill -9', () => {
  it('during bursts loses nothing taken: after a restart every taken measurement reaches the collector exactly once', async () => {
    await lab.startCollector();
    await lab.writeConfig();
    const taken = new Set<string>();
    // Kill at different points of a burst: after the 3rd, 11th and 20th measurement of a daemon's life
    // (the 20th is in its second run, with uploads of the first under way).
    for (const killAt of [3, 11, 20]) {
      const daemon = await lab.spawnDaemon({ schedule: { interval_minutes: 0.02 } });
      await daemon.waitForTaken(killAt, 30_000);
      daemon.proc.kill('SIGKILL');
      const end = await daemon.exited;
      expect(end.signal).toBe('SIGKILL');
      expect(daemon.taken().length).toBeGreaterThanOrEqual(killAt);
      for (const id of daemon.taken()) taken.add(id);
    }
    // A restarted daemon first spools what the run its predecessor was killed in had measured (logged as
    // taken too), so the kills land sooner in new measurements: at least the last daemon's 20 are distinct.
    expect(taken.size).toBeGreaterThanOrEqual(20);

    // A restart with a long interval: it measures once at start, then only uploads.
    const daemon = await lab.spawnDaemon({ schedule: { interval_minutes: 60 } });
    const archived = await eventually(
      async () => {
        const ids = await lab.archivedIds();
        return [...taken].every((id) => ids.includes(id)) ? ids : null;
      },
      30_000,
      'every taken measurement in the collector archive',
    );
    const counts = countBy(archived);
    for (const id of taken) expect(counts.get(id), `measurement ${id}`).toBe(1);
    // Nothing at all is archived twice (a resend after a lost acknowledgement is answered "duplicate").
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // Everything archived came from this probe's daemons: taken ones, plus at most the ones a kill
    // caught between the durable append and the log line.
    const untracked = archived.filter((id) => !taken.has(id) && !daemon.taken().includes(id));
    expect(untracked.length).toBeLessThanOrEqual(3);

    daemon.proc.kill('SIGTERM');
    const end = await daemon.exited;
    expect(end.code).toBe(0);
  }, 120_000);
});
