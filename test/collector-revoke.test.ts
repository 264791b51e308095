// Revoking fakes: two enrolled probes that invent a blocking open an event; revoked retroactively and reindexed, their measurements stay in the archive, marked, and count in no aggregate and no event.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import type { Measurement } from '../contract/measurement.js';
import type { BatchAnswer } from '../contract/wire.js';
import { makeMeasurement, request, startCollector, T0, TARGETS_FILE, tempDir, type RunningCollector, type TestProbe } from './fixtures/collector/helpers.js';

const HOUR = 3_600_000;
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

function io(): { out: string[]; err: string[]; streams: { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean } } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, streams: { stdout: { write: (t) => out.push(t) > 0 }, stderr: { write: (t) => err.push(t) > 0 } } };
}

/** Every 30 minutes for 14 hours before T0: YouTube and the canary; `blocked` says whether the probe reports YouTube reset from `from` hours (default 8) to 4 h before T0. */
function series(probe: TestProbe, offset: number, blocked: boolean, from = 8): Measurement[] {
  const list: Measurement[] = [];
  for (let t = T0 - 14 * HOUR + offset * 60_000; t < T0; t += 30 * 60_000) {
    const reset = blocked && t >= T0 - from * HOUR && t < T0 - 4 * HOUR;
    list.push(makeMeasurement({ probeId: probe.id, at: t, verdict: reset ? 'tls.reset' : 'ok' }));
    list.push(makeMeasurement({ probeId: probe.id, at: t + 1000, target: { id: 'canary-kz', category: 'canary' } }));
  }
  return list;
}

describe('revoking probes', () => {
  it('fakes revoked retroactively: after reindex their invented event is gone, their measurements uncounted but still served', async () => {
    const dir = await tempDir();
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const config = path.join(dir, 'collector.yaml');
    await writeFile(config, `data_dir: ${path.join(dir, 'data')}\ntargets_file: ${TARGETS_FILE}\nevents:\n  interval_minutes: 30\n  min_probe_history_hours: 2\n`);
    const events = { interval_minutes: 30, min_probe_history_hours: 2 };
    const c: RunningCollector = await startCollector({ dir: path.join(dir, 'data'), events });
    const real = await c.register();
    const fakes = [await c.register(), await c.register()];
    const sent = new Map<string, Measurement[]>([
      [real.id, series(real, 0, false)],
      [fakes[0]!.id, series(fakes[0]!, 1, true)],
      [fakes[1]!.id, series(fakes[1]!, 2, true)],
    ]);
    for (const p of [real, ...fakes]) {
      const answer = (await c.post(p, sent.get(p.id)!)).json() as BatchAnswer;
      expect(answer.results.every((r) => r.status === 'accepted')).toBe(true);
      c.clock.advance(1);
    }
    c.collector.events.settle();
    const invented = c.collector.eventStore.events().filter((e) => e.series === 'youtube/AS9198/tls');
    expect(invented, 'two agreeing fakes open an event').toHaveLength(1);
    const resetsCounted = () => c.collector.store.aggregates().filter((a) => a.verdict === 'tls.reset').reduce((n, a) => n + a.count, 0);
    expect(resetsCounted()).toBe(16);
    await c.stop();

    // One fake revoked from now on only: its past still counts (the event stands after a reindex).
    const now = io();
    expect(await main(['revoke', '--config', config, fakes[0]!.id], now.streams), now.err.join('')).toBe(0);
    expect(now.out.join('')).not.toContain('left out');
    expect(await main(['reindex', '--config', config], io().streams)).toBe(0);
    const kept = await startCollector({ dir: path.join(dir, 'data'), events });
    expect(kept.collector.eventStore.events().filter((e) => e.series === 'youtube/AS9198/tls')).toHaveLength(1);
    await kept.stop();

    // Both revoked retroactively: after the reindex neither their resets nor the event remain.
    for (const f of fakes) {
      const r = io();
      expect(await main(['revoke', '--config', config, f.id, '--retroactive'], r.streams), r.err.join('')).toBe(0);
      expect(r.out.join('')).toContain('everything it measured is left out of the aggregates, the series and the events once `ashyq-collector reindex` has run');
    }
    const re = io();
    expect(await main(['reindex', '--config', config], re.streams)).toBe(0);
    expect(re.out.join('')).toContain('2 revoked probes: their measurements');
    const after = await startCollector({ dir: path.join(dir, 'data'), events });
    cleanup.push(() => after.stop());
    expect(after.collector.eventStore.events().filter((e) => e.series === 'youtube/AS9198/tls')).toEqual([]);
    expect(after.collector.store.aggregates().filter((a) => a.verdict === 'tls.reset')).toEqual([]);
    // The real probe's measurements still count.
    expect(after.collector.store.aggregates().reduce((n, a) => n + a.count, 0)).toBe(sent.get(real.id)!.length);
    // Archived and served, marked as not counted; a re-sent measurement is still a duplicate.
    const fakeReset = sent.get(fakes[0]!.id)!.find((m) => m.verdict.verdict === 'tls.reset')!;
    const record = (await request(`${after.url}/api/v1/measurements/${fakeReset.id}`)).json() as { measurement: Record<string, unknown> };
    expect(record.measurement).toMatchObject({ id: fakeReset.id, counted: false, uncounted_reason: expect.stringContaining('its probe was revoked') });
    const realOne = sent.get(real.id)![0]!;
    expect(((await request(`${after.url}/api/v1/measurements/${realOne.id}`)).json() as { measurement: Record<string, unknown> }).measurement['counted']).toBe(true);
    expect(after.collector.store.hasMeasurement(fakeReset.id)).toBe(true);

    const listed = io();
    expect(await main(['probes', '--config', config, '--json'], listed.streams)).toBe(0);
    const probes = (JSON.parse(listed.out.join('')) as { probes: Array<{ id: string; state: string; excluded_from: string | null }> }).probes;
    expect(probes.find((p) => p.id === real.id)).toMatchObject({ state: 'active', excluded_from: null });
    expect(probes.find((p) => p.id === fakes[1]!.id)).toMatchObject({ state: 'revoked', excluded_from: new Date(0).toISOString() });
    const bad = io();
    expect(await main(['revoke', '--config', config, real.id, '--since', 'yesterday'], bad.streams)).toBe(2);
    expect(bad.err.join('')).toContain('revoke --since yesterday: expected a time such as 2024-05-09');
    expect(await main(['revoke', '--config', config, real.id, '--since', '2024-05-09', '--retroactive'], io().streams)).toBe(2);
  });

  it('a probe that reports all fine through a blocking every other probe of its network saw is flagged in `probes`', async () => {
    const dir = await tempDir();
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const config = path.join(dir, 'collector.yaml');
    await writeFile(config, `data_dir: ${path.join(dir, 'data')}\ntargets_file: ${TARGETS_FILE}\n`);
    const c: RunningCollector = await startCollector({ dir: path.join(dir, 'data') });
    cleanup.push(() => c.stop());
    const reals = [await c.register(), await c.register(), await c.register()];
    const fake = await c.register();
    for (const [i, p] of reals.entries()) expect((await c.post(p, series(p, i, true, 12))).status).toBe(200);
    expect((await c.post(fake, series(fake, 3, false))).status).toBe(200);
    const listed = async () => {
      const out = io();
      expect(await main(['probes', '--config', config, '--json'], { ...out.streams, clock: c.clock })).toBe(0);
      return (JSON.parse(out.out.join('')) as { probes: Array<{ id: string; state: string; measurements: number; agreement: Record<string, number> | null }> }).probes;
    };
    for (let i = 0; i < 100 && (await listed()).some((p) => p.measurements === 0); i++) await new Promise((r) => setTimeout(r, 20));
    const probes = await listed();
    expect(probes.find((p) => p.id === fake.id)).toMatchObject({ state: 'flagged', agreement: { asn: 9198, others_blocked: 8, missed: 8, invented: 0 } });
    for (const r of reals) expect(probes.find((p) => p.id === r.id)?.state).toBe('active');
    const table = io();
    expect(await main(['probes', '--config', config], { ...table.streams, clock: c.clock })).toBe(0);
    expect(table.out.join('')).toMatch(new RegExp(`${fake.id}\\s+flagged: missed 8 of 8 blocked target-hours all its network's other probes saw \\(AS9198, last 7 days\\)`));
  });
});
