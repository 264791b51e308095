// A surge asked by the collector, followed by a real daemon process within the limits of its config.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../probe/daemon/status.js';
import { startDaemonLab, type DaemonLab } from './daemon-lab.js';

let lab: DaemonLab;

beforeAll(async () => {
  lab = await startDaemonLab({ targets: 3 });
});

afterAll(async () => {
  await lab.close();
});

describe('a surge', () => {
  it('measures the named target (and the canaries) more often until it ends, never faster than the config allows', async () => {
    const until = new Date(Date.now() + 3_600_000).toISOString();
    // The collector asks for every 0.001 min; the volunteer allows every 0.02 min (1.2 s) at most.
    await lab.startCollector({ surge: { targets: ['site-01', 'not-a-target-here'], interval_minutes: 0.001, until } });
    await lab.writeConfig();
    const daemon = await lab.spawnDaemon({ schedule: { interval_minutes: 10, surge_min_interval_minutes: 0.02, surge_max_hours: 1 } });
    await daemon.waitForLine((l) => l.includes('surge asked for site-01'), 20_000);
    const startedAt = Date.now();
    await daemon.waitForTaken(5 + 3 * 4, 30_000);
    const elapsed = Date.now() - startedAt;
    const byTarget = (id: string) => daemon.lines.filter((l) => new RegExp(`taken \\S+ ${id} `).test(l)).length;
    expect(byTarget('site-00')).toBe(1);
    expect(byTarget('site-02')).toBe(1);
    expect(byTarget('site-01')).toBeGreaterThanOrEqual(4);
    expect(byTarget('canary-domestic')).toBe(byTarget('site-01'));
    // At most one surge run per 1.2 s (plus the first run of everything).
    expect(byTarget('site-01') - 1).toBeLessThanOrEqual(Math.floor(elapsed / 1200) + 1);
    const status = JSON.parse(await readFile(path.join(lab.stateDir, 'status.json'), 'utf8')) as DaemonStatus;
    expect(status.schedule.surge).toMatchObject({ targets: ['site-01'], interval_minutes: 0.02 });
    daemon.proc.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 60_000);
});
