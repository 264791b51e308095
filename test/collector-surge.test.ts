// The operator's surge: set, shown and stopped with `ashyq-collector surge`, served by a running collector (ETag, expiry, damage), followed by a real daemon.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import { SURGE_FILE } from '../collector/targets/surge.js';
import type { DaemonStatus } from '../probe/daemon/status.js';
import { eventually, metricValue, startDaemonLab, type DaemonLab } from './daemon-lab.js';
import {
  ManualClock,
  makeMeasurement,
  request,
  startCollector,
  T0,
  TARGETS_FILE,
  tempDir,
  type RunningCollector,
} from './fixtures/collector/helpers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A collector config file whose data dir is `dataDir` (the running server's, or a fresh one). */
async function configFor(dataDir: string, targetsFile = TARGETS_FILE): Promise<string> {
  const dir = await tempDir('ashyq-surge-cfg-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'collector.yaml');
  await writeFile(file, `data_dir: ${JSON.stringify(dataDir)}\ntargets_file: ${JSON.stringify(targetsFile)}\n`);
  return file;
}

/** Run the command line in-process; returns the exit code and what it wrote. */
async function cli(argv: string[], clock?: ManualClock): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    env: {},
    ...(clock ? { clock } : {}),
  });
  return { code, out: out.join(''), err: err.join('') };
}

async function running(clock: ManualClock): Promise<RunningCollector> {
  const c = await startCollector({ clock });
  cleanups.push(() => c.dispose());
  return c;
}

async function targets(c: RunningCollector, etag?: string) {
  const res = await request(`${c.url}/api/v1/targets`, etag ? { headers: { 'if-none-match': etag } } : {});
  return { status: res.status, etag: res.headers.etag as string, body: res.status === 200 ? (res.json() as { version: number; targets: Array<{ id: string }>; surge?: unknown }) : null };
}

async function surgeMetrics(c: RunningCollector) {
  const text = (await request(`${c.url}/metrics`)).text;
  return { active: metricValue(text, 'ashyq_surge_active'), targets: metricValue(text, 'ashyq_surge_targets'), until: metricValue(text, 'ashyq_surge_until_seconds') };
}

function errorLogs(c: RunningCollector): string[] {
  return c.logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
}

describe('ashyq-collector surge against a running server', () => {
  it('starts, replaces and stops a surge: the list carries it, the ETag follows it, uploads are checked as before', async () => {
    const clock = new ManualClock(T0);
    const c = await running(clock);
    const cfg = await configFor(c.dir);

    const before = await targets(c);
    expect(before.status).toBe(200);
    expect(before.body!.surge).toBeUndefined();
    const plainEtag = before.etag;
    expect((await cli(['surge', '--config', cfg], clock)).out).toBe('no surge\n');

    const started = await cli(['surge', '--config', cfg, '--targets', 'youtube,telegram', '--every', '10', '--for', '2h'], clock);
    expect(started.code).toBe(0);
    expect(started.err).toBe('');
    expect(started.out).toContain(`surge: youtube, telegram every 10 min until ${new Date(T0 + 2 * HOUR).toISOString()}`);
    // What probes will do: their own config caps it.
    expect(started.out).toContain('max(10, surge_min_interval_minutes) minutes, for at most surge_max_hours');
    expect(started.out).toContain('On the defaults (10 min, 6 h): every 10 min for 2h.');

    const during = await targets(c);
    expect(during.status).toBe(200);
    expect(during.body!.surge).toEqual({ targets: ['youtube', 'telegram'], interval_minutes: 10, until: new Date(T0 + 2 * HOUR).toISOString() });
    expect(during.body!.targets).toEqual(before.body!.targets);
    expect(during.etag).not.toBe(plainEtag);
    // A probe holding the old ETag gets the new list; one holding the new gets 304.
    const stale = await targets(c, plainEtag);
    expect(stale.status).toBe(200);
    expect(stale.body!.surge).toBeDefined();
    expect((await targets(c, during.etag)).status).toBe(304);
    expect(await surgeMetrics(c)).toEqual({ active: 1, targets: 2, until: Math.floor((T0 + 2 * HOUR) / 1000) });
    const shown = await cli(['surge', '--config', cfg], clock);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain('surge: youtube, telegram every 10 min until');

    // Uploads are validated against the same ids, surge or not.
    const probe = await c.register();
    const upload = await c.post(probe, [
      makeMeasurement({ probeId: probe.id, at: clock.now() - 1000 }),
      makeMeasurement({ probeId: probe.id, at: clock.now() - 1000, target: { id: 'not-listed', category: 'video' } }),
    ]);
    expect((upload.json() as { results: Array<{ status: string; code?: string }> }).results.map((r) => r.code ?? r.status)).toEqual(['accepted', 'unknown_target']);

    // Replaced: another ETag again.
    const until = new Date(T0 + 30 * MIN).toISOString();
    const replaced = await cli(['surge', '--config', cfg, '--targets', 'youtube', '--every', '1', '--until', until], clock);
    expect(replaced.code).toBe(0);
    const after = await targets(c, during.etag);
    expect(after.status).toBe(200);
    expect(after.body!.surge).toEqual({ targets: ['youtube'], interval_minutes: 1, until });
    expect([plainEtag, during.etag]).not.toContain(after.etag);

    const stopped = await cli(['surge', '--config', cfg, '--stop'], clock);
    expect(stopped.code).toBe(0);
    expect(stopped.out).toContain('surge stopped');
    const ended = await targets(c);
    expect(ended.body!.surge).toBeUndefined();
    expect(ended.etag).toBe(plainEtag);
    expect((await targets(c, plainEtag)).status).toBe(304);
    expect((await targets(c, after.etag)).status).toBe(200);
    expect(await surgeMetrics(c)).toEqual({ active: 0, targets: 0, until: 0 });
    expect((await cli(['surge', '--config', cfg], clock)).out).toBe('no surge\n');
    expect((await cli(['surge', '--config', cfg, '--stop'], clock)).out).toContain('there was no surge');
    expect(c.logs.some((l) => l.includes('surge: asking probes to measure youtube, telegram every 10 min'))).toBe(true);
    expect(c.logs.some((l) => l.includes('surge: stopped by the operator'))).toBe(true);
    expect(errorLogs(c)).toEqual([]);
  });

  it('stops serving a surge when the clock reaches its end', async () => {
    const clock = new ManualClock(T0);
    const c = await running(clock);
    const cfg = await configFor(c.dir);
    const plainEtag = (await targets(c)).etag;
    expect((await cli(['surge', '--config', cfg, '--targets', 'canary-kz', '--every', '5', '--for', '90m'], clock)).code).toBe(0);
    clock.advance(90 * MIN - 1);
    const last = await targets(c);
    expect(last.body!.surge).toMatchObject({ targets: ['canary-kz'], until: new Date(T0 + 90 * MIN).toISOString() });
    expect((await surgeMetrics(c)).active).toBe(1);
    clock.advance(1);
    const ended = await targets(c, last.etag);
    expect(ended.status).toBe(200);
    expect(ended.body!.surge).toBeUndefined();
    expect(ended.etag).toBe(plainEtag);
    expect((await surgeMetrics(c)).active).toBe(0);
    expect(c.logs.filter((l) => l.includes(`surge: ended at ${new Date(T0 + 90 * MIN).toISOString()}`))).toHaveLength(1);
    expect((await cli(['surge', '--config', cfg], clock)).out).toContain('no surge (the last one, canary-kz, ended at');

    // A server started after the end does not serve it either.
    await c.stop();
    const again = await startCollector({ clock, dir: c.dir });
    cleanups.push(() => again.stop());
    const fresh = await targets(again);
    expect(fresh.body!.surge).toBeUndefined();
    expect(fresh.etag).toBe(plainEtag);
  });
});

describe('ashyq-collector surge refuses bad input', () => {
  const cases: Array<{ args: string[]; message: RegExp }> = [
    { args: ['--targets', 'youtube,nope', '--every', '10', '--for', '2h'], message: /--targets: unknown target "nope" \(known: youtube, telegram, canary-kz\)/ },
    { args: ['--targets', 'ashyq-collector', '--every', '10', '--for', '2h'], message: /--targets: "ashyq-collector" is the collector itself/ },
    { args: ['--targets', 'youtube,telegram,youtube', '--every', '10', '--for', '2h'], message: /--targets: "youtube" is named twice/ },
    { args: ['--targets', 'youtube,,telegram', '--every', '10', '--for', '2h'], message: /--targets: an empty target id/ },
    { args: ['--targets', 'youtube', '--every', '0', '--for', '2h'], message: /--every: expected a whole number of minutes from 1 to 1440, got 0/ },
    { args: ['--targets', 'youtube', '--every', '1441', '--for', '2h'], message: /--every: expected a whole number of minutes from 1 to 1440, got 1441/ },
    { args: ['--targets', 'youtube', '--every', '2.5', '--for', '2h'], message: /--every: expected a whole number of minutes from 1 to 1440, got 2.5/ },
    { args: ['--targets', 'youtube', '--every', 'ten', '--for', '2h'], message: /--every: expected a whole number of minutes, got "ten"/ },
    { args: ['--targets', 'youtube', '--every', '10', '--until', new Date(T0 - MIN).toISOString()], message: /--until: 2024-05-09T06:59:00.000Z is not in the future/ },
    { args: ['--targets', 'youtube', '--every', '10', '--for', '0m'], message: /--for: .* is not in the future/ },
    { args: ['--targets', 'youtube', '--every', '10', '--for', '8d'], message: /--for: 2024-05-17T07:00:00.000Z is more than 7 days ahead/ },
    { args: ['--targets', 'youtube', '--every', '10', '--until', new Date(T0 + 7 * DAY + 1).toISOString()], message: /--until: .* is more than 7 days ahead \(the latest end now is 2024-05-16T07:00:00.000Z\)/ },
    { args: ['--targets', 'youtube', '--every', '10', '--until', '2024-05-09T12:00:00'], message: /--until: expected an ISO 8601 time with a zone/ },
    { args: ['--targets', 'youtube', '--every', '10', '--for', '2 hours'], message: /--for: expected a duration such as 90m, 2h, 1d or 1h30m, got "2 hours"/ },
    { args: ['--every', '10', '--for', '2h'], message: /--targets is required to start a surge/ },
    { args: ['--targets', 'youtube', '--for', '2h'], message: /--every is required to start a surge/ },
    { args: ['--targets', 'youtube', '--every', '10'], message: /--for \(e\.g\. 2h\) or --until \(an ISO 8601 time\) is required/ },
    { args: ['--targets', 'youtube', '--every', '10', '--for', '2h', '--until', new Date(T0 + HOUR).toISOString()], message: /give --for or --until, not both/ },
    { args: ['--stop', '--targets', 'youtube'], message: /--stop takes no other surge option/ },
  ];

  it('exits 2 with a message naming the flag and the problem, and writes nothing', async () => {
    const clock = new ManualClock(T0);
    const fresh = await tempDir('ashyq-surge-data-');
    cleanups.push(() => rm(fresh, { recursive: true, force: true }));
    const c = await running(clock);
    expect((await cli(['surge', '--config', await configFor(c.dir), '--targets', 'telegram', '--every', '15', '--for', '1d'], clock)).code).toBe(0);
    const kept = await readFile(path.join(c.dir, SURGE_FILE));
    const servedEtag = (await targets(c)).etag;
    for (const dataDir of [fresh, c.dir]) {
      const cfg = await configFor(dataDir);
      for (const { args, message } of cases) {
        const r = await cli(['surge', '--config', cfg, ...args], clock);
        expect({ args, code: r.code }).toEqual({ args, code: 2 });
        expect(r.err).toMatch(message);
        expect(r.out).toBe('');
      }
    }
    await expect(readFile(path.join(fresh, SURGE_FILE))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(path.join(c.dir, SURGE_FILE))).toEqual(kept);
    const still = await targets(c);
    expect(still.etag).toBe(servedEtag);
    expect(still.body!.surge).toMatchObject({ targets: ['telegram'], interval_minutes: 15 });
    // Surge options belong to the surge command only.
    const misplaced = await cli(['serve', '--config', await configFor(fresh), '--targets', 'youtube'], clock);
    expect(misplaced.code).toBe(2);
    expect(misplaced.err).toContain('--targets is an option of the surge command only');
  });

  it('accepts the limits: every 1 and 1440 minutes, an end exactly 7 days ahead', async () => {
    const clock = new ManualClock(T0);
    const dir = await tempDir('ashyq-surge-data-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const cfg = await configFor(dir);
    for (const args of [
      ['--every', '1', '--for', '1h'],
      ['--every', '1440', '--for', '7d'],
      ['--every', '60', '--until', '2024-05-16T12:00:00+05:00'],
    ]) {
      const r = await cli(['surge', '--config', cfg, '--targets', 'youtube', ...args], clock);
      expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 0, err: '' });
    }
    const stored = JSON.parse(await readFile(path.join(dir, SURGE_FILE), 'utf8'));
    expect(stored).toEqual({ targets: ['youtube'], interval_minutes: 60, until: '2024-05-16T07:00:00.000Z', set_at: new Date(T0).toISOString() });
  });
});

describe('a damaged surge file', () => {
  it('is logged as an error once per change, serves no surge, and never stops the server', async () => {
    const clock = new ManualClock(T0);
    const dir = await tempDir('ashyq-surge-data-');
    // Damaged before the server starts: it starts anyway.
    await writeFile(path.join(dir, SURGE_FILE), '{"targets": ["youtube"], "interval_min');
    const c = await startCollector({ clock, dir });
    cleanups.push(() => c.dispose());
    const plain = await targets(c);
    expect(plain.status).toBe(200);
    expect(plain.body!.surge).toBeUndefined();
    expect(errorLogs(c)).toHaveLength(1);
    expect(errorLogs(c)[0]).toContain('surge.json is invalid, serving no surge: not valid JSON');
    await targets(c);
    expect(errorLogs(c)).toHaveLength(1);
    expect((await request(`${c.url}/healthz`)).status).toBe(200);
    expect((await surgeMetrics(c)).active).toBe(0);
    const shown = await cli(['surge', '--config', await configFor(c.dir)], clock);
    expect(shown.code).toBe(1);
    expect(shown.out).toContain('is invalid: not valid JSON');

    // Edited by hand into something well-formed but not servable.
    const stored = { targets: ['youtube', 'gone'], interval_minutes: 10, until: new Date(T0 + HOUR).toISOString(), set_at: new Date(T0).toISOString() };
    await writeFile(path.join(dir, SURGE_FILE), JSON.stringify(stored));
    expect((await targets(c)).etag).toBe(plain.etag);
    expect(errorLogs(c)).toHaveLength(2);
    expect(errorLogs(c)[1]).toContain('targets: unknown target \\"gone\\"');
    for (const bad of [
      { ...stored, targets: ['youtube'], interval_minutes: 0 },
      { ...stored, targets: ['youtube'], until: 'soon' },
      { ...stored, targets: ['youtube'], until: new Date(T0 + 8 * DAY).toISOString() },
      { ...stored, targets: ['youtube'], extra: 1 },
      [1, 2],
    ]) {
      await writeFile(path.join(dir, SURGE_FILE), JSON.stringify(bad));
      const n = errorLogs(c).length;
      const res = await targets(c);
      expect(res.status).toBe(200);
      expect(res.body!.surge).toBeUndefined();
      expect(errorLogs(c)).toHaveLength(n + 1);
    }

    // The operator's command replaces the damaged file.
    expect((await cli(['surge', '--config', await configFor(c.dir), '--targets', 'youtube', '--every', '10', '--for', '1h'], clock)).code).toBe(0);
    expect((await targets(c)).body!.surge).toMatchObject({ targets: ['youtube'] });
  });
});

describe('end to end', () => {
  let lab: DaemonLab | null = null;
  afterEach(async () => {
    await lab?.close();
    lab = null;
  });

  it('a real probe daemon measures the surged target more often once the command set a surge, and stops when it is stopped', async () => {
    lab = await startDaemonLab({ targets: 3 });
    await lab.startCollector();
    await lab.writeConfig();
    const cfg = await configFor(path.join(lab.dir, 'collector'), path.join(lab.dir, 'local-targets.yaml'));
    // Regular interval 10 min; the daemon asks for the list every 1.2 s (its surge minimum).
    const daemon = await lab.spawnDaemon({ schedule: { interval_minutes: 10, surge_min_interval_minutes: 0.02, surge_max_hours: 1 } });
    const byTarget = (id: string) => daemon.lines.filter((l) => new RegExp(`taken \\S+ ${id} `).test(l)).length;
    await daemon.waitForTaken(5, 30_000);
    // Without a surge nothing is due again for 10 minutes: a few list polls pass without a measurement.
    await daemon.waitForLine((l) => l.includes('targets: 5 from the collector'), 20_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(daemon.taken()).toHaveLength(5);

    const set = await cli(['surge', '--config', cfg, '--targets', 'site-01', '--every', '1', '--for', '1h']);
    expect(set.code).toBe(0);
    await daemon.waitForLine((l) => l.includes('surge asked for site-01'), 20_000);
    await daemon.waitForTaken(5 + 2, 30_000);
    expect(byTarget('site-01')).toBe(2);
    expect(byTarget('canary-domestic')).toBe(2);
    expect(byTarget('site-00')).toBe(1);
    expect(byTarget('site-02')).toBe(1);
    const status = await eventually(async () => {
      const s = JSON.parse(await readFile(path.join(lab!.stateDir, 'status.json'), 'utf8')) as DaemonStatus;
      return s.schedule.surge !== null ? s : null;
    }, 30_000, 'the surge in the status file');
    expect(status.schedule.surge).toMatchObject({ targets: ['site-01'], interval_minutes: 1 });
    // The collector received the surge's measurements.
    await eventually(async () => (await lab!.archived()).filter((r) => r.measurement.target.id === 'site-01').length >= 2, 30_000, 'two site-01 measurements archived');

    const seen = daemon.lines.length;
    expect((await cli(['surge', '--config', cfg, '--stop'])).code).toBe(0);
    await daemon.waitForLine(() => daemon.lines.slice(seen).some((l) => /targets: 5 from the collector$/.test(l)), 20_000);
    await eventually(async () => {
      const s = JSON.parse(await readFile(path.join(lab!.stateDir, 'status.json'), 'utf8')) as DaemonStatus;
      return s.schedule.surge === null;
    }, 30_000, 'no surge in the status file');
    daemon.proc.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 90_000);
});
