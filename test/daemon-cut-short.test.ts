// A run cut short by kill -9 while it measures: what it had measured is in its journal, judged and spooled at the next start, and reaches the collector once.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startDaemonLab, type DaemonLab } from './daemon-lab.js';

let lab: DaemonLab;

beforeAll(async () => {
  // 6 targets and the 2 canaries; 3 targets stall their TLS handshakes into the 2 s step timeout, so each run lasts seconds.
  lab = await startDaemonLab({ targets: 6, stalled: 3 });
});

afterAll(async () => {
  await lab.close();
});

/** The ids in the run journal (complete lines only). */
async function journaled(stateDir: string): Promise<string[]> {
  const text = await readFile(path.join(stateDir, 'run-journal.jsonl'), 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.endsWith('}')).map((l) => (JSON.parse(l) as { id: string }).id);
}

describe('kill -9 in the middle of a run', () => {
  it('loses none of the targets the run had measured: they are spooled at the next start and delivered once', async () => {
    await lab.startCollector();
    await lab.writeConfig();
    const first = await lab.spawnDaemon({ schedule: { interval_minutes: 60 } });
    // The fast targets are measured; the stalled ones still wait for their handshakes.
    const ids = await eventually(async () => {
      const j = await journaled(lab.stateDir);
      return j.length >= 3 ? j : null;
    }, 20_000, 'three targets of the first run journaled');
    first.proc.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    // Nothing of that run was spooled as taken before the kill.
    expect(first.taken()).toEqual([]);

    const second = await lab.spawnDaemon({ schedule: { interval_minutes: 60 } });
    await second.waitForLine((line) => line.includes('the last run was cut short'), 20_000);
    const archived = await eventually(
      async () => {
        const got = await lab.archivedIds();
        return ids.every((id) => got.includes(id)) ? got : null;
      },
      30_000,
      'every journaled measurement in the collector archive',
    );
    for (const id of ids) expect(archived.filter((x) => x === id), id).toHaveLength(1);
    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 90_000);
});
