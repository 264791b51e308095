// The daemon (in-process) against a real loopback collector whose operator revokes the probe: one plain log line, no upload, run or poll after it over two days, the spool kept, the status saying so; a restart asks once more.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { statusCommand } from '../probe/cli/status.js';
import { loadProbeConfig } from '../probe/config/probe-config.js';
import { Activity } from '../probe/daemon/activity.js';
import { runDaemon } from '../probe/daemon/daemon.js';
import { CollectorPoll, type CollectorPollOptions } from '../probe/daemon/poll.js';
import type { Log, LogLevel } from '../probe/daemon/log.js';
import { formatStatus, readStatus } from '../probe/daemon/status.js';
import { Spool } from '../probe/spool/spool.js';
import { CollectorClient } from '../probe/upload/client.js';
import { metricValue } from './daemon-lab.js';
import { loopbackNetwork } from './fakes/loopback-network.js';
import { ManualTimers } from './fakes/manual-timers.js';
import { ManualClock, startCollector, TARGETS_FILE, tempDir, TOKEN, type RunningCollector } from './fixtures/collector/helpers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const CAP = 50 * 1024 * 1024;

/** The collector's clock: the same fake time as the daemon's. */
class FollowingClock extends ManualClock {
  constructor(private readonly source: ManualTimers) {
    super(source.now());
  }
  override now(): number {
    return this.source.now();
  }
  override monotonic(): number {
    return this.source.now();
  }
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanup.length > 0) await cleanup.pop()!();
});

interface Line {
  level: LogLevel;
  msg: string;
  kind: string | undefined;
}

/** The daemon in this process on the manual timers; `settled` once runDaemon resolved or rejected. */
function startDaemon(file: string, c: RunningCollector, timers: ManualTimers) {
  const lines: Line[] = [];
  const log: Log = (level, msg, kind) => void lines.push({ level, msg, kind });
  const port = Number(new URL(c.url).port);
  const network = loopbackNetwork({ [`127.0.0.1:${port}`]: port }, undefined, { unmapped: 'EHOSTUNREACH' });
  const stop = new AbortController();
  let settled = false;
  cleanup.push(async () => {
    stop.abort();
    await timers.until('the daemon stopped', () => settled, { stepMs: 100 }).catch(() => undefined);
  });
  const done = loadProbeConfig(file)
    .then((config) => runDaemon(config, { network, clock: timers, log, random: () => 0.5, timers, env: {}, stopGraceMs: 1000 }, stop.signal))
    .finally(() => (settled = true));
  return {
    lines,
    network,
    taken: () => lines.filter((l) => l.kind === 'taken').map((l) => l.msg.split(' ')[1]!),
    /** The daemon's own line about it (not an upload failure that quotes the collector). */
    revokedLines: () => lines.filter((l) => l.msg.startsWith('the collector at ') && l.msg.includes(' revoked this probe ')),
    runs: () => lines.filter((l) => l.kind === 'run').length,
    async stop() {
      stop.abort();
      await timers.until('the daemon stopped', () => settled, { stepMs: 100 });
      await done;
    },
  };
}

describe('a probe the collector revoked', () => {
  it('is said once, uploads, runs and polls stop for two days of fake time, the spool and status keep it; a restart asks once more', async () => {
    const dir = await tempDir('ashyq-revoked-');
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const timers = new ManualTimers(Date.now());
    const c = await startCollector({ dir: path.join(dir, 'collector'), clock: new FollowingClock(timers), limits: { signature_skew_s: 6 * 3600 } });
    cleanup.push(() => c.stop());
    const stateDir = path.join(dir, 'state');
    const file = path.join(dir, 'probe.yaml');
    await writeFile(
      file,
      [
        `state_dir: ${JSON.stringify(stateDir)}`,
        `targets_file: ${JSON.stringify(TARGETS_FILE)}`,
        'measure:',
        '  timeout_ms: 1000',
        '  resolvers: [system]',
        '  qtypes: [A]',
        'collector:',
        `  url: ${c.url}`,
        `  enrollment_token: ${TOKEN}`,
        'schedule:',
        '  interval_minutes: 60',
        '  jitter_fraction: 0',
        'upload:',
        '  batch_size: 20',
        '  backoff_base_s: 1',
        '  backoff_cap_s: 2',
        '',
      ].join('\n'),
    );
    const uploads = vi.spyOn(CollectorClient.prototype, 'upload');
    const asks = (['register', 'fetchTargets', 'whoami', 'fetchControls', 'reachable'] as const).map((m) => vi.spyOn(CollectorClient.prototype, m));
    const asked = () => asks.reduce((n, s) => n + s.mock.calls.length, 0);
    const rejectsRevoked = async () => metricValue((await c.collector.app.inject({ method: 'GET', url: '/metrics' })).body, 'ashyq_ingest_rejects_total', '{reason="probe_revoked"}') ?? 0;

    // Enrolled and delivering: the first run's measurements reach the collector.
    const d = startDaemon(file, c, timers);
    await timers.until('the first run delivered', () => d.taken().length > 0 && c.collector.store.measurementCount() === d.taken().length);
    const firstRun = d.taken().length;
    expect(firstRun).toBeGreaterThanOrEqual(3);
    const probeId = (JSON.parse(await readFile(path.join(stateDir, 'identity.json'), 'utf8')) as { probe_id: string }).probe_id;

    // The operator revokes the probe (ashyq-collector revoke ID does the same to the store).
    expect(c.collector.store.revokeProbe(probeId, new Date(timers.now()).toISOString())).toBe(true);
    // To the second run's time at once, then in small steps while it measures, spools and uploads (the
    // uploader may look at the spool while the run is still spooling: the whole run is waited for).
    let nextRun = 0;
    await timers.until('the next run in the status', async () => {
      nextRun = Date.parse((await readStatus(stateDir))?.schedule.next_run_at ?? '') || 0;
      return nextRun > timers.now() && d.runs() === 1;
    });
    await timers.advance(nextRun - timers.now());
    await timers.until('the revocation seen', () => d.revokedLines().length > 0 && d.runs() === 2, { stepMs: 100, realTimeoutMs: 30_000 });
    const seenAt = timers.now();
    const secondRun = d.taken().slice(firstRun);
    expect(secondRun.length).toBe(firstRun);
    const uploadsThen = uploads.mock.calls.length;
    const askedThen = asked();
    expect(await rejectsRevoked()).toBe(1);

    // Two days: not one more upload attempt, run or question to the collector.
    for (let h = 0; h < 48; h++) {
      await timers.advance(HOUR);
      expect(uploads.mock.calls.length, `upload attempts after ${h + 1} h`).toBe(uploadsThen);
      expect(asked(), `other requests after ${h + 1} h`).toBe(askedThen);
      expect(d.taken().length, `measurements after ${h + 1} h`).toBe(2 * firstRun);
    }
    expect(await rejectsRevoked()).toBe(1);
    expect(c.collector.store.measurementCount()).toBe(firstRun);

    // Said once, plainly, as an error; no upload failure was logged for it.
    const said = d.revokedLines();
    expect(said).toHaveLength(1);
    expect(said[0]!.level).toBe('error');
    expect(said[0]!.msg).not.toContain('\n');
    expect(said[0]!.msg).toContain(`the collector at ${c.url} revoked this probe ${probeId} (the operator revoked this probe at `);
    const stated = /; (\d+) measurements? stays? in the spool\. /.exec(said[0]!.msg);
    expect(said[0]!.msg).toContain('uploads and measuring stopped until the daemon restarts (it stays up, idle); ');
    expect(Number(stated?.[1])).toBeGreaterThanOrEqual(1);
    expect(Number(stated?.[1])).toBeLessThanOrEqual(secondRun.length);
    expect(said[0]!.msg).toContain(`move identity.json and key.pem out of ${stateDir}, then run ashyq-probe setup INVITE`);
    expect(d.lines.filter((l) => /upload failed|registration with the collector failed/.test(l.msg))).toEqual([]);

    // The status: the revocation, no failure count, no next run.
    const status = (await readStatus(stateDir))!;
    expect(status.state).toBe('running');
    expect(status.revoked?.reason).toMatch(/^the operator revoked this probe at \S+: its uploads are refused$/);
    expect(Date.parse(status.revoked!.seen_at)).toBeLessThanOrEqual(seenAt);
    expect(status.upload).toMatchObject({ consecutiveFailures: 0, nextAttemptAt: null, revokedAt: status.revoked!.seen_at, uploaded: firstRun });
    expect(status.schedule.next_run_at).toBeNull();
    expect(status.runs).toBe(2);
    expect(status.spool.count).toBe(secondRun.length);
    const text = formatStatus(status, timers.now(), true, stateDir);
    expect(text).toMatch(/^daemon {7}running \(pid \d+, .*\); IDLE: the collector revoked this probe$/m);
    expect(text).toContain(`revoked      REVOKED by the collector, seen ${status.revoked!.seen_at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (2 d 0 h ago): the operator revoked this probe at`);
    expect(text).toContain('next run none (measuring stopped: the collector revoked this probe)');
    expect(text).toContain('stopped: the collector revoked this probe (see revoked above)');
    expect(text).not.toMatch(/failure\(s\) in a row/);
    // `ashyq-probe status` prints the same (the daemon holds the state directory: exit 0).
    const out: string[] = [];
    expect(await statusCommand({ configFile: file, json: false }, { out: { write: (t) => out.push(t) }, err: { write: (t) => out.push(t) } }, timers.now())).toBe(0);
    expect(out.join('')).toContain(`then run ashyq-probe setup INVITE`);

    await d.stop();
    // The spool is intact: the measurements taken after the revocation, none dropped, none acked.
    expect(await Spool.inspect(path.join(stateDir, 'spool'), { capBytes: CAP })).toMatchObject({ count: secondRun.length, dropped: 0 });
    const spool = await Spool.open(path.join(stateDir, 'spool'), { capBytes: CAP, clock: timers });
    const kept = (await spool.pending(1000)).map((m) => m.id);
    await spool.close();
    expect(kept.sort()).toEqual([...secondRun].sort());

    // A restart starts from scratch: one upload attempt, refused again, said once again; nothing deleted.
    const again = startDaemon(file, c, timers);
    const before = uploads.mock.calls.length;
    await timers.until('the revocation seen after the restart', () => again.revokedLines().length > 0);
    await timers.advance(6 * HOUR);
    expect(uploads.mock.calls.length - before).toBe(1);
    expect(again.revokedLines()).toHaveLength(1);
    expect(await rejectsRevoked()).toBe(2);
    await again.stop();
    const after = await Spool.open(path.join(stateDir, 'spool'), { capBytes: CAP, clock: timers });
    const stillKept = (await after.pending(1000)).map((m) => m.id);
    await after.close();
    expect(stillKept).toEqual(expect.arrayContaining(kept));
    expect(c.collector.store.measurementCount()).toBe(firstRun);
  }, 90_000);

  it('the collector poll, halted while a poll is in flight, arms no other', async () => {
    const timers = new ManualTimers(Date.UTC(2024, 4, 9, 7, 0, 0));
    let polls = 0;
    let answer: () => void = () => undefined;
    const o = {
      enabled: true,
      targets: {
        refresh: () => {
          polls++;
          return new Promise<'unchanged'>((resolve) => (answer = () => resolve('unchanged')));
        },
        targets: () => [],
        surge: () => null,
      },
      location: { refresh: async () => undefined },
      schedule: { setTargets: () => undefined, applySurge: () => undefined },
      scheduler: { wake: () => undefined },
      timers,
      random: () => 0.5,
      everyMs: 10 * MIN,
      log: () => undefined,
      activity: new Activity(timers),
      status: { update: () => undefined },
      signal: new AbortController().signal,
    } as unknown as CollectorPollOptions;
    const poll = new CollectorPoll(o);
    poll.start();
    await timers.advance(10 * MIN);
    expect(polls).toBe(1);
    poll.halt();
    answer();
    await timers.advance(48 * HOUR);
    expect(polls).toBe(1);
    expect(timers.pending).toBe(0);
    poll.start();
    await timers.advance(HOUR);
    expect(polls).toBe(1);
  });
});
