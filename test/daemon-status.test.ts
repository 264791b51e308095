// `ashyq-probe status` and the daemon's command line: the status file for people and as JSON, liveness, usage and config errors.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../probe/cli/main.js';
import { lockStateDir } from '../common/lock.js';
import { formatStatus, readStatus, writeStatus, type DaemonStatus } from '../probe/daemon/status.js';
import { StateLockedError } from '../common/errors.js';

const NOW = Date.UTC(2024, 4, 9, 8, 0, 0);
const at = (minutesBefore: number) => new Date(NOW - minutesBefore * 60_000).toISOString();

function sample(over: Partial<DaemonStatus> = {}): DaemonStatus {
  return {
    version: 1,
    state: 'running',
    pid: process.pid,
    probe_id: 'q3T0m1nV8bS4pXo2yZk9Lw',
    software: '0.1.0',
    started_at: at(190),
    updated_at: at(0.2),
    collector: 'https://collector.example.org',
    proxy: false,
    schedule: {
      interval_minutes: 60,
      jitter_fraction: 0.1,
      next_run_at: new Date(NOW + 23 * 60_000).toISOString(),
      running: false,
      targets: 27,
      surge: { targets: ['telegram', 'whatsapp'], interval_minutes: 10, since: at(30), until: new Date(NOW + 90 * 60_000).toISOString() },
    },
    runs: 4,
    taken: 108,
    last_run: { started_at: at(37), finished_at: new Date(NOW - 37 * 60_000 + 14_200).toISOString(), targets: 27, measurements: 27, verdicts: { ok: 25, 'tls.reset': 2 }, error: null },
    spool: {
      count: 12,
      bytes: 348_160,
      capBytes: 50 * 1024 * 1024,
      dropped: 40,
      firstDroppedAt: '2024-05-08T01:00:00.000Z',
      lastDroppedAt: '2024-05-08T03:00:00.000Z',
      setAside: 1,
      set_aside_at_start: [{ file: 'corrupt/seg-000000000003.seg@120.torn', reason: 'torn frame at the end (a crash while writing)', bytes: 413 }],
    },
    upload: { lastUploadAt: at(36), lastError: 'upload: connect ECONNREFUSED', lastErrorAt: at(1), consecutiveFailures: 3, nextAttemptAt: new Date(NOW + 20_000).toISOString(), uploaded: 96, rejected: 0 },
    targets: { source: 'collector', count: 27, etag: '"abc"', checked_at: at(5), updated_at: at(190), last_error: null },
    location: { asn: 9198, cc: 'KZ', network: 'JSC Kazakhtelecom', source: 'collector', checked_at: at(5) },
    last_error: { at: at(1), message: 'upload: connect ECONNREFUSED' },
    ...over,
  };
}

describe('formatStatus', () => {
  it('names the schedule, last run, spool, last upload and last error', () => {
    const text = formatStatus(sample(), NOW, true);
    expect(text).toContain('daemon       running (pid');
    expect(text).toContain('up 3 h 10 min');
    expect(text).toContain('every 60 min ±10 %, 27 targets; next run 2024-05-09 08:23:00Z (in 23 min)');
    expect(text).toContain('surge        telegram, whatsapp every 10 min until 2024-05-09 09:30:00Z');
    expect(text).toContain('last run     2024-05-09 07:23:00Z (37 min ago); 27 measurements in 14.2 s: 25 ok, 2 tls.reset');
    expect(text).toContain('spool        12 measurements waiting, 340.0 KB of 50.0 MB; 40 DROPPED by the disk cap');
    expect(text).toContain('set aside at start: corrupt/seg-000000000003.seg@120.torn');
    expect(text).toContain('last upload  2024-05-09 07:24:00Z (36 min ago); 96 uploaded, 0 rejected');
    expect(text).toContain('3 failure(s) in a row; next attempt 2024-05-09 08:00:20Z (in 20 s): upload: connect ECONNREFUSED');
    expect(text).toContain('network      AS9198 KZ JSC Kazakhtelecom (as the collector sees it');
    expect(text).toContain('last error   2024-05-09 07:59:00Z (60 s ago): upload: connect ECONNREFUSED');
  });

  it("says when the last run found the line behind a captive portal, or lossy; nothing on a clean line", () => {
    const run = sample().last_run!;
    const portal = formatStatus(sample({ last_run: { ...run, verdicts: { offline: 27 }, line: { loss: 'none', portal: 'plain HTTP to egov.kz was redirected to login.wifi.test (HTTP 302)' } } }), NOW, true);
    expect(portal).toContain("line         behind a captive portal or an operator's wall (plain HTTP to egov.kz was redirected to login.wifi.test (HTTP 302)): every verdict is offline");
    const lossy = formatStatus(sample({ last_run: { ...run, line: { loss: 'heavy', portal: null } } }), NOW, true);
    expect(lossy).toContain('line         heavy packet loss on this line');
    expect(formatStatus(sample({ last_run: { ...run, line: { loss: 'none', portal: null } } }), NOW, true)).not.toMatch(/^line /m);
    expect(formatStatus(sample(), NOW, true)).not.toMatch(/^line /m);
  });

  it('shows a revocation by the collector instead of a failure count: when it was seen, the reason, what stopped and what to do', () => {
    const upload = { ...sample().upload!, consecutiveFailures: 0, nextAttemptAt: null, revokedAt: at(20), lastError: 'the collector answered 403 (probe_revoked: …)' };
    const revoked = { seen_at: at(20), reason: 'the operator revoked this probe at 2024-05-09T07:30:00.000Z: its uploads are refused' };
    const s = sample({ revoked, upload, schedule: { ...sample().schedule, next_run_at: null, surge: null } });
    const text = formatStatus(s, NOW, true, '/var/lib/ashyq');
    expect(text).toMatch(/^daemon {7}running \(pid \d+, up 3 h 10 min; status written 12 s ago\); IDLE: the collector revoked this probe$/m);
    expect(text).toContain('revoked      REVOKED by the collector, seen 2024-05-09 07:40:00Z (20 min ago): the operator revoked this probe at 2024-05-09T07:30:00.000Z: its uploads are refused\n');
    expect(text).toContain('             uploads and measuring stopped until the daemon restarts (it stays up, idle); 12 measurements stay in the spool.\n');
    expect(text).toContain(
      "             Ask the collector's operator, or enroll again as a new probe with a new invite: move identity.json and key.pem out of /var/lib/ashyq, then run ashyq-probe setup INVITE (setup alone keeps the revoked identity)\n",
    );
    expect(text).toContain('next run none (measuring stopped: the collector revoked this probe)');
    expect(text).toContain('last upload  2024-05-09 07:24:00Z (36 min ago); 96 uploaded, 0 rejected since start\n             stopped: the collector revoked this probe (see revoked above)\n');
    expect(text).not.toMatch(/failure\(s\) in a row/);
    // Stopped since: no "stays up"; a restart asks again. A status of an older version has no revoked key.
    const stopped = formatStatus({ ...s, state: 'stopped' }, NOW, false, '/var/lib/ashyq');
    expect(stopped).toContain('uploads and measuring stopped; a restart of the daemon asks the collector again; 12 measurements stay in the spool.');
    expect(stopped).not.toContain('IDLE');
    const older = formatStatus(sample(), NOW, true);
    expect(older).not.toMatch(/^revoked/m);
    expect(older).toContain('3 failure(s) in a row');
  });

  it('says plainly when the daemon is gone without a clean stop, and when it stopped', () => {
    expect(formatStatus(sample(), NOW, false)).toContain('NOT RUNNING: pid');
    const stopped = formatStatus(sample({ state: 'stopped' }), NOW, false);
    expect(stopped).toContain('daemon       stopped (2024-05-09 07:59:48Z (12 s ago))');
    expect(stopped).toContain('next run —');
    const spoolOnly = formatStatus(sample({ collector: null, upload: null, last_run: null, last_error: null }), NOW, true);
    expect(spoolOnly).toContain('collector    none: measurements stay in the spool');
    expect(spoolOnly).toContain('upload       off (no collector configured)');
    expect(spoolOnly).toContain('last run     none yet');
    expect(spoolOnly).toContain('last error   —');
  });
});

describe('ashyq-probe status', () => {
  let dir: string;
  let stateDir: string;
  let config: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-status-'));
    stateDir = path.join(dir, 'state');
    config = path.join(dir, 'probe.yaml');
    await writeFile(config, `state_dir: ${JSON.stringify(stateDir)}\n`);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function streams() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, s: { out: { write: (t: string) => out.push(t) }, err: { write: (t: string) => err.push(t) } } };
  }

  it('exits 4 when no daemon ever ran with the state directory', async () => {
    const io = streams();
    expect(await main(['status', '--config', config], io.s as never)).toBe(4);
    expect(io.err.join('')).toContain(`no daemon has run with the state directory ${stateDir}`);
  });

  it('exits 0 while the daemon holds the state directory, 3 once it is gone', async () => {
    await mkdir(stateDir, { recursive: true });
    await writeStatus(stateDir, sample({ pid: 999_999_999 }));
    const lock = await lockStateDir(stateDir);
    try {
      // A second daemon on the same state directory is refused.
      await expect(lockStateDir(stateDir)).rejects.toBeInstanceOf(StateLockedError);
      const io = streams();
      expect(await main(['status', '--config', config], io.s as never)).toBe(0);
      expect(io.out.join('')).toMatch(/^daemon {7}running \(pid 999999999/);
    } finally {
      await lock.release();
    }
    // The lock is released (as the kernel does for a killed daemon): the PID alone does not count.
    const io = streams();
    expect(await main(['status', '--config', config], io.s as never)).toBe(3);
    expect(io.out.join('')).toContain('NOT RUNNING: pid 999999999 is gone without a clean stop');
    const json = streams();
    expect(await main(['status', '--config', config, '--json'], json.s as never)).toBe(3);
    const parsed = JSON.parse(json.out.join('')) as DaemonStatus & { alive: boolean };
    expect(parsed.alive).toBe(false);
    expect(parsed.spool.dropped).toBe(40);
    expect(await readStatus(stateDir)).toEqual(sample({ pid: 999_999_999 }));
  });

  it('takes a stale lock left by a killed daemon', async () => {
    await mkdir(stateDir, { recursive: true });
    // A socket file nobody listens on, as a kill -9 leaves it.
    const first = await lockStateDir(stateDir);
    const { LOCK_SOCKET } = await import('../common/lock.js');
    const stale = path.join(stateDir, LOCK_SOCKET);
    await first.release();
    await writeFile(stale, '');
    const second = await lockStateDir(stateDir);
    await second.release();
  });
});

describe('the daemon command line', () => {
  function streams() {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, s: { out: { write: (t: string) => out.push(t) }, err: { write: (t: string) => err.push(t) } } };
  }

  it('refuses options that belong to other commands', async () => {
    for (const argv of [['daemon', '--once'], ['status', '--targets', 'x.yaml'], ['daemon', 'now']]) {
      const io = streams();
      expect(await main(argv, io.s as never)).toBe(2);
    }
  });

  it('exits 2 on an invalid config, naming file and line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-cli-'));
    try {
      const file = path.join(dir, 'probe.yaml');
      await writeFile(file, 'schedule:\n  interval_minutes: 0\n');
      for (const command of ['daemon', 'status']) {
        const io = streams();
        expect(await main([command, '--config', file], io.s as never)).toBe(2);
        expect(io.err.join('')).toContain(`${file}:2: schedule.interval_minutes: expected an integer 1..1440, got 0`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists daemon and status in the usage', async () => {
    const io = streams();
    expect(await main(['--help'], io.s as never)).toBe(0);
    expect(io.out.join('')).toMatch(/daemon {12}measure every target on the config's schedule/);
    expect(io.out.join('')).toMatch(/status {12}show the daemon's schedule/);
  });
});

describe('the state directory lock', () => {
  it('uses an abstract socket when the directory path is too long for a socket file (Linux)', async () => {
    const { lockAddress } = await import('../common/lock.js');
    const base = await mkdtemp(path.join(os.tmpdir(), 'ashyq-lock-'));
    try {
      const deep = path.join(base, 'a-rather-long-directory-name-'.repeat(4), 'state');
      await mkdir(deep, { recursive: true });
      expect(lockAddress(path.join(base, 'state')).file).toBe(true);
      if (process.platform !== 'linux') return;
      expect(lockAddress(deep)).toMatchObject({ file: false });
      const first = await lockStateDir(deep);
      try {
        await expect(lockStateDir(deep)).rejects.toBeInstanceOf(StateLockedError);
      } finally {
        await first.release();
      }
      const again = await lockStateDir(deep);
      await again.release();
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
