// The censored lab end to end: the real ashyq-probe in a client namespace behind a censoring router, one scenario after another.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchivedRecord } from '../../collector/storage/archive.js';
import type { DaemonStatus } from '../../probe/daemon/status.js';
import type { Measurement } from '../../contract/measurement.js';
import { COLLECTOR_TARGET } from '../../contract/wire.js';
import { LAB_SCENARIOS, labExpectations, labScenario, type LabScenario } from '../catalogue/index.js';
import { archivedRecords, reachabilityPoints, type ReachabilityPoint, type SeriesAnswer } from './collector-view.js';
import { Lab, labSupport, removeStaleLab, type ProbeRun } from './lab.js';
import type { LabDaemon, Taken } from './lab-daemon.js';
import { NATIONAL_ROOT_CN } from './pki.js';
import { DEFAULT_TIMING } from './config-files.js';
import { LOSS_CASES, LOSSY_MAX_CONFIDENCE } from './line-loss.js';
import { isBlocked } from '../../contract/verdict.js';
import { run, runIn } from './shell.js';
import { CLIENT_IP, COLLECTOR, LAB_ISP, LAB_TARGETS, LINKS, NS, type Host } from './topology.js';

const support = await labSupport();
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

if (!support.ok && !inCi) {
  process.stderr.write(
    `\n*** test/lab SKIPPED: the censored lab cannot be built here: ${support.why}.\n` +
      '*** The end-to-end censorship scenarios did NOT run. In CI (CI set) this is a failure.\n\n',
  );
}

if (!support.ok && inCi) {
  describe('censored lab (CI)', () => {
    it('can create network namespaces and has the lab tools', () => {
      expect.fail(`the censored lab cannot be built in CI: ${support.why}`);
    });
  });
}

/** Verdict and layer per target. */
function verdictsOf(list: readonly Measurement[]): Record<string, { verdict: string; layer: string | null }> {
  return Object.fromEntries(list.map((m) => [m.target.id, { verdict: m.verdict.verdict, layer: m.verdict.layer }]));
}

/** Verdict per target: what the daemon logged as taken, or what a scenario expects. */
function verdictNames(list: readonly Taken[] | Record<string, { verdict: string }>): Record<string, string> {
  if (Array.isArray(list)) return Object.fromEntries(list.map((t) => [t.target, t.verdict]));
  return Object.fromEntries(Object.entries(list).map(([id, e]) => [id, e.verdict]));
}

function reasonsOf(list: readonly Measurement[]): string {
  return list.map((m) => `${m.target.id}: ${m.verdict.verdict}: ${m.verdict.reason}`).join('\n');
}


describe.runIf(support.ok)('censored lab: the real probe behind a real censor', () => {
  let dir = '';
  let lab: Lab | null = null;

  beforeAll(async () => {
    const stale = await removeStaleLab();
    if (stale.length > 0) process.stderr.write(`lab: removed namespaces left by an earlier run: ${stale.join(', ')}\n`);
    dir = await mkdtemp(join(tmpdir(), 'ashyq-lab-test-'));
    lab = new Lab(dir);
    try {
      await lab.up();
    } catch (err) {
      await lab.down();
      throw err;
    }
  }, 120_000);

  afterAll(async () => {
    await lab?.down();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('is sealed: every link joins two lab hosts, the machine holds no lab address, only the client has a default route', async () => {
    const devs: Record<Host, string[]> = { client: [], censor: [], internet: [], tap: [] };
    for (const l of LINKS) {
      devs[l.a.host].push(l.a.dev);
      devs[l.b.host].push(l.b.dev);
    }
    for (const host of Object.keys(NS) as Host[]) {
      const links = await runIn(NS[host], 'ip', ['-o', 'link', 'show']);
      const names = links.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => (l.split(': ')[1] ?? '').split('@')[0]);
      expect(names.sort(), host).toEqual(['lo', ...devs[host]].sort());
      const routes = await runIn(NS[host], 'ip', ['route', 'show', 'default']);
      expect(routes.stdout.trim() !== '', `${host} default route`).toBe(host === 'client');
    }
    const root = await run('ip', ['-o', 'addr', 'show']);
    expect(root.stdout).not.toMatch(/192\.88\.99\.|10\.77\./);
  });

  it('runs the collector in `internet`, reached from the client by name through the censor', async () => {
    if (lab === null) throw new Error('the lab is not up');
    const r = await lab.clientGet(`${lab.collectorUrl}/healthz`);
    expect(r).toEqual({ status: 200, body: JSON.stringify({ status: 'ok' }) });
  });

  const ran: Array<{ name: string; ms: number }> = [];

  /** Measure `s` with `run --once` (`s.runs` times, each checked); resolves with the last run. */
  const runScenario = async (s: LabScenario) => {
    if (lab === null) throw new Error('the lab is not up');
    await lab.clearCensor();
    await s.apply(lab.censor);
    let r: ProbeRun | null = null;
    for (let i = 0; i < (s.runs ?? 1); i++) {
      r = await lab.probe();
      ran.push({ name: s.name, ms: r.elapsedMs });
      expect(r.code, `ashyq-probe exit status; stderr:\n${r.stderr}`).toBe(0);
      expect(r.measurements.map((m) => m.target.id)).toEqual(LAB_TARGETS.map((t) => t.id));
      expect(verdictsOf(r.measurements), `verdicts under ${s.name} (run ${i + 1}):\n${reasonsOf(r.measurements)}`).toEqual(labExpectations(s));
      if (i < (s.runs ?? 1) - 1) s.check(r);
    }
    return r as ProbeRun;
  };

  // ── the daemon: one run per scenario, uploaded to the collector in `internet` ──────────────
  //
  // The daemon runs as a volunteer runs it: started, it measures every target at once (a schedule
  // of one run an hour without jitter), spools, uploads over the pinned TLS connection, and is
  // stopped with SIGTERM. Its state (identity, spool) lives on from one start to the next.

  /** Measurements the daemon took and what became of them at the collector. */
  interface DaemonRun {
    taken: Taken[];
    status: DaemonStatus;
    stored: Map<string, ArchivedRecord[]>;
  }

  const oneDaemonRun = async (what: string, done: (st: DaemonStatus) => boolean): Promise<DaemonRun> => {
    if (lab === null) throw new Error('the lab is not up');
    const daemon = await lab.startDaemon(await lab.writeDaemonConfig('probe-daemon', 60));
    let status: DaemonStatus;
    try {
      status = await daemon.until(what, (st) => st.last_run !== null && done(st), 120_000);
    } finally {
      await daemon.stop();
    }
    expect(daemon.running, 'the daemon exits on SIGTERM').toBe(false);
    expect(await daemon.log(), 'the daemon logs a clean stop').toMatch(/ stopped in \d/);
    const stored = new Map<string, ArchivedRecord[]>();
    for (const r of await archivedRecords(lab.collectorDataDir)) stored.set(r.measurement.id, [...(stored.get(r.measurement.id) ?? []), r]);
    return { taken: await daemon.taken(), status, stored };
  };

  /** The stored records of `taken`, each exactly once, as the collector received them. */
  const storedOnce = (run: DaemonRun, taken: readonly Taken[]): ArchivedRecord[] =>
    taken.map((t) => {
      const copies = run.stored.get(t.id) ?? [];
      expect(copies.length, `${t.target} ${t.id}: stored once by the collector`).toBe(1);
      return copies[0]!;
    });

  /** What every stored record must say: the daemon's verdict, the collector's view of the lab ISP, no volunteer address. */
  const checkStored = (records: readonly ArchivedRecord[], taken: readonly Taken[]) => {
    records.forEach((r, i) => {
      expect(r.measurement.verdict.verdict, `${taken[i]!.target}: stored verdict = the daemon's`).toBe(taken[i]!.verdict);
      expect([r.asn, r.cc], 'the collector looked the connection up').toEqual([LAB_ISP.asn, LAB_ISP.cc]);
      expect(JSON.stringify(r), "the client's address is nowhere in what was stored").not.toContain(CLIENT_IP);
    });
  };

  /** What the daemon measured while cut off (the portal, the shutdown): delivered after the shutdown. */
  const pendingShutdown: Taken[] = [];
  let cutOffRuns = 0;

  const daemonScenario = async (s: LabScenario) => {
    if (lab === null) throw new Error('the lab is not up');
    const mode = s.daemon ?? 'upload';
    if (mode === 'skip') return;
    // A fresh censor: every scenario's mechanisms start from an honest router.
    await lab.clearCensor();
    await s.apply(lab.censor);
    if (mode === 'spool') {
      // Cut off, the daemon measures and keeps everything: nothing can reach the collector.
      const run = await oneDaemonRun(`one run measured while cut off (${s.name})`, (st) => (st.upload?.consecutiveFailures ?? 0) >= 1);
      const fresh = run.taken.filter((t) => !pendingShutdown.some((p) => p.id === t.id));
      expect(fresh.length).toBe(LAB_TARGETS.length);
      expect(verdictNames(fresh), 'verdicts the daemon took').toEqual(verdictNames(labExpectations(s)));
      expect(fresh.filter((t) => run.stored.has(t.id)), 'nothing reached the collector').toEqual([]);
      expect(run.status.spool.count, 'every measurement kept in the spool').toBeGreaterThanOrEqual(pendingShutdown.length + fresh.length);
      // Behind a portal the daemon's status says so; in a shutdown it says nothing of the kind.
      const portal = run.status.last_run?.line?.portal ?? null;
      if (s.name.startsWith('portal-')) expect(portal, 'status: behind a portal').not.toBeNull();
      else expect(portal, 'status: no portal in a shutdown').toBeNull();
      pendingShutdown.push(...fresh);
      cutOffRuns++;
      return;
    }
    const run = await oneDaemonRun('one run measured and acknowledged by the collector', (st) => st.spool.count === 0);
    expect(run.status.upload?.rejected, 'measurements the collector refused').toBe(0);
    expect(run.taken.map((t) => t.target).sort()).toEqual(LAB_TARGETS.map((t) => t.id).sort());
    const records = storedOnce(run, run.taken);
    checkStored(records, run.taken);
    const measurements = records.map((r) => r.measurement);
    expect(verdictsOf(measurements), `stored verdicts under ${s.name}:\n${reasonsOf(measurements)}`).toEqual(labExpectations(s));
    // The evidence as stored shows the censor's mechanism as plainly as the probe's own output.
    s.check({ code: 0, measurements: LAB_TARGETS.map((t) => measurements.find((m) => m.target.id === t.id)!), stdout: '', stderr: '', elapsedMs: 0 });
  };

  // ── a switch while the daemon runs: clean → blocked → clean, seen in the collector's series ──────
  //
  // First among the daemon tests, so that the collector holds nothing else yet: its 10-minute
  // aggregates then contain exactly these three runs.
  const SWITCH = 'tcp-reset';

  it(`switch: clean → ${SWITCH} → clean while the daemon runs; the collector's series show the change at the right times`, async () => {
    if (lab === null) throw new Error('the lab is not up');
    const blocking = labScenario(SWITCH);
    const clean = labScenario('clean');
    if (blocking === undefined || clean === undefined) throw new Error('missing scenarios');
    expect(await archivedRecords(lab.collectorDataDir), 'the collector holds nothing before the switch').toEqual([]);
    await lab.clearCensor();
    // One run a minute, no jitter: run 1 at start (clean), run 2 a minute later (blocked), run 3 a minute after that (clean).
    const daemon: LabDaemon = await lab.startDaemon(await lab.writeDaemonConfig('probe-daemon-switch', 1));
    const started = Date.now();
    let appliedAt = 0;
    let clearedAt = 0;
    const uploadedRun = (n: number, after: number) => (st: DaemonStatus) =>
      st.runs >= n && st.last_run !== null && Date.parse(st.last_run.started_at) >= after && st.spool.count === 0;
    try {
      await daemon.until('run 1 (clean) uploaded', uploadedRun(1, started), 120_000);
      appliedAt = Date.now();
      await blocking.apply(lab.censor);
      await daemon.until(`run 2 (${SWITCH}) uploaded`, uploadedRun(2, appliedAt), 150_000);
      clearedAt = Date.now();
      await lab.clearCensor();
      await daemon.until('run 3 (clean again) uploaded', uploadedRun(3, clearedAt), 150_000);
    } finally {
      await daemon.stop();
    }
    const taken = await daemon.taken();
    expect(taken.length, 'three runs of every lab target').toBe(3 * LAB_TARGETS.length);
    const records = (await archivedRecords(lab.collectorDataDir)).filter((r) => taken.some((t) => t.id === r.measurement.id));
    expect(records.length, 'every measurement of the three runs stored once').toBe(taken.length);
    checkStored(
      taken.map((t) => records.find((r) => r.measurement.id === t.id)!),
      taken,
    );

    const phases = [labExpectations(clean), labExpectations(blocking), labExpectations(clean)];
    const phaseOf = (at: number) => (at < appliedAt ? 0 : at < clearedAt ? 1 : 2);
    for (const t of LAB_TARGETS) {
      // The time series Grafana reads: one point per run, at the run's time, with the verdict of that time.
      let points: ReachabilityPoint[] = [];
      for (let tries = 0; tries < 50; tries++) {
        points = (await reachabilityPoints(t.id)).filter((p) => p.at >= started - 1000);
        if (points.length >= 3) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(points.map((p) => phaseOf(p.at)), `${t.id}: one point per phase`).toEqual([0, 1, 2]);
      expect(points.map((p) => p.verdict), `${t.id}: verdicts over time`).toEqual(phases.map((e) => e[t.id]!.verdict));
      expect(points.map((p) => p.blocked), `${t.id}: blocked over time`).toEqual(phases.map((e) => (e[t.id]!.verdict === 'ok' ? 0 : 1)));
      expect(new Set(points.map((p) => p.asn)), `${t.id}: the lab ISP's ASN`).toEqual(new Set([String(LAB_ISP.asn)]));

      // The collector's own series (10-minute aggregates): exactly the three runs, each in the step of its time.
      const step = 600_000;
      const from = Math.floor(started / step) * step;
      const to = Math.ceil(Date.now() / step) * step + step;
      const answer = await lab.clientGet(`${lab.collectorUrl}/api/v1/series?target=${t.id}&from=${from}&to=${to}&step=10m`);
      if ('error' in answer) throw new Error(`series for ${t.id}: ${answer.error}`);
      expect(answer.status, answer.body).toBe(200);
      const series = JSON.parse(answer.body) as SeriesAnswer;
      const expected = new Map<string, { count: number; blocked: number; verdicts: Record<string, number> }>();
      for (const p of points) {
        const key = new Date(Math.floor(p.at / step) * step).toISOString();
        const e = expected.get(key) ?? { count: 0, blocked: 0, verdicts: {} };
        e.count++;
        e.blocked += p.blocked;
        e.verdicts[p.verdict] = (e.verdicts[p.verdict] ?? 0) + 1;
        expected.set(key, e);
      }
      expect(
        series.points.map((p) => ({ t: p.t, count: p.count, blocked: p.blocked, verdicts: p.verdicts })),
        `${t.id}: /api/v1/series`,
      ).toEqual([...expected].map(([key, e]) => ({ t: key, ...e })));
    }
  }, 420_000);

  it('the censor intercepts the collector too: not one measurement is sent, and the interception is reported once the path is clean', async () => {
    if (lab === null) throw new Error('the lab is not up');
    await lab.clearCensor();
    await lab.censor.intercept([COLLECTOR.ip]);
    const uploads = async () =>
      (await lab!.log('collector.out', Number.MAX_SAFE_INTEGER)).split('\n').filter((l) => l.includes('"method":"POST","url":"/api/v1/measurements"')).length;
    const before = await uploads();
    const cut = await oneDaemonRun('one run measured while the collector is intercepted', (st) => (st.last_error?.message ?? '').includes('not pinned'));
    expect(await uploads(), 'upload requests that reached the collector').toBe(before);
    expect(cut.taken.filter((t) => cut.stored.has(t.id)), 'nothing stored').toEqual([]);
    const reports = cut.taken.filter((t) => t.target === COLLECTOR_TARGET.id);
    expect(reports.map((t) => t.verdict), 'the interception recorded once, as a measurement of the collector').toEqual(['tls.interception']);
    expect(cut.status.spool.count, 'everything kept').toBe(cut.taken.length);
    expect(await lab.log('daemon.log', 200)).toMatch(/not pinned/);

    await lab.clearCensor();
    const clean = await oneDaemonRun('delivered once the path is clean', (st) => st.spool.count === 0);
    const records = storedOnce(clean, cut.taken);
    checkStored(records, cut.taken);
    const report = records.find((r) => r.measurement.target.id === COLLECTOR_TARGET.id)!.measurement;
    expect(report.evidence.tls[0]?.chain[0]?.issuer, 'the forged certificate names the fake national root').toContain(NATIONAL_ROOT_CN);
    expect(report.evidence.tls[0]?.ip).toBe(COLLECTOR.ip);
  }, 240_000);

  for (const s of LAB_SCENARIOS) {
    it(`${s.name}: ${s.summary}`, async () => {
      const r = await runScenario(s);
      s.check(r);
      // The same scenario through the daemon: measured, spooled, uploaded, stored with the same verdicts.
      await daemonScenario(s);
    }, 240_000);
  }

  it('after the shutdown: the daemon delivers what it measured while cut off, each measurement once', async () => {
    if (lab === null) throw new Error('the lab is not up');
    const cutOff = LAB_SCENARIOS.filter((x) => x.daemon === 'spool');
    expect(cutOffRuns, 'every cut-off scenario ran first').toBe(cutOff.length);
    expect(pendingShutdown.length).toBe(cutOff.length * LAB_TARGETS.length);
    await lab.clearCensor();
    const run = await oneDaemonRun('the spool emptied once the route is back', (st) => st.spool.count === 0);
    const records = storedOnce(run, pendingShutdown);
    checkStored(records, pendingShutdown);
    expect(records.every((r) => r.measurement.verdict.verdict === 'offline'), 'every measurement taken while cut off is offline').toBe(true);
  }, 240_000);

  // ── the control vantage: a site down for everyone is down, not blocked ───────────────────────
  //
  // The collector runs in the internet host, outside the censor, and measures every target itself a
  // run a minute. Facebook's own server refuses every connection: the control sees the refusal too,
  // so the probe (which fetches the control's evidence) and the collector both say `down`. The same
  // refusal by the censor (the tcp-refused scenario above) stays tcp.refused: the control got through.
  /** Wait for the collector's control run of Facebook that began after `since`, and check what it found. */
  const waitForControl = async (since: number, expected: string): Promise<void> => {
    let control: { target: string; at: string; verdict: string } | undefined;
    for (let i = 0; i < 100 && control === undefined; i++) {
      const answer = await lab!.clientGet(`${lab!.collectorUrl}/api/v1/control`);
      if (!('error' in answer) && answer.status === 200) {
        const view = JSON.parse(answer.body) as { targets: Array<{ target: string; at: string; verdict: string }> };
        control = view.targets.find((t) => t.target === 'facebook' && Date.parse(t.at) >= since);
      }
      if (control === undefined) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(control?.verdict, 'what the control measured').toBe(expected);
  };

  it('site down for everyone: the control sees it too, so the probe and the collector say down, never tcp.refused', async () => {
    if (lab === null) throw new Error('the lab is not up');
    await lab.clearCensor();
    const facebook = LAB_TARGETS.find((t) => t.id === 'facebook')!;
    const since = Date.now();
    try {
      await lab.siteDown(facebook.ip);
      await waitForControl(since, 'tcp.refused');
      const run = await oneDaemonRun('one run judged with the control and acknowledged', (st) => st.spool.count === 0 && Date.parse(st.last_run!.started_at) >= since);
      const fb = run.taken.find((t) => t.target === 'facebook')!;
      expect(fb.verdict, 'the probe judged with the control: down').toBe('down');
      const [record] = storedOnce(run, [fb]);
      expect(record!.measurement.verdict.verdict).toBe('down');
      expect(record!.collector?.verdict.verdict, "the collector's own verdict, judged with its control").toBe('down');
      expect(record!.collector?.control_id).toEqual(expect.any(String));
      // Every other target stays ok.
      expect(run.taken.filter((t) => t.target !== 'facebook' && t.verdict !== 'ok').map((t) => `${t.target}: ${t.verdict}`)).toEqual([]);
    } finally {
      await lab.siteDown(null);
    }
  }, 240_000);

  // A domain gone for everyone: the honest resolver (the authority here) answers NXDOMAIN for
  // Facebook's names, to the censored client through the ISP's resolver and to the control alike.
  // The probe and the collector say `down`; the dns-nxdomain scenario above, where only the censor's
  // resolver lies, stays dns.nxdomain (the control resolved the name).
  it('domain gone for everyone: NXDOMAIN at the control too, so the probe and the collector say down, never dns.nxdomain', async () => {
    if (lab === null) throw new Error('the lab is not up');
    await lab.clearCensor();
    const facebook = LAB_TARGETS.find((t) => t.id === 'facebook')!;
    const since = Date.now();
    try {
      await lab.domainGone(facebook.domains);
      await waitForControl(since, 'dns.nxdomain');
      const run = await oneDaemonRun('one run judged with the control and acknowledged', (st) => st.spool.count === 0 && Date.parse(st.last_run!.started_at) >= since);
      const fb = run.taken.find((t) => t.target === 'facebook')!;
      expect(fb.verdict, 'the probe judged with the control: down').toBe('down');
      const [record] = storedOnce(run, [fb]);
      expect(record!.measurement.verdict.verdict).toBe('down');
      expect(record!.collector?.verdict.verdict, "the collector's own verdict, judged with its control").toBe('down');
      expect(run.taken.filter((t) => t.target !== 'facebook' && t.verdict !== 'ok').map((t) => `${t.target}: ${t.verdict}`)).toEqual([]);
    } finally {
      await lab.domainGone([]);
    }
  }, 240_000);

  // ── the volunteer's own line: random packet loss on the client's link ─────────────────────────
  //
  // With the shipped step bounds (5 s), as a volunteer runs the probe. A lost packet is not
  // censorship: the probe resends DNS queries, measures again what failed, and tempers what loss
  // can fake; a real block measured through the same loss keeps its verdict.
  for (const c of LOSS_CASES) {
    it(`${c.name}: no confident block from lost packets${c.scenario !== undefined ? `; ${c.scenario} still found` : ''}`, async () => {
      if (lab === null) throw new Error('the lab is not up');
      await lab.clearCensor();
      if (c.scenario !== undefined) await labScenario(c.scenario)!.apply(lab.censor);
      const config = await lab.writeProbeConfig('probe-default-timing', DEFAULT_TIMING);
      const falseBlocks: string[] = [];
      try {
        await lab.lineLoss(c.probability);
        for (let i = 0; i < c.runs; i++) {
          const r = await lab.probe([], config);
          ran.push({ name: c.name, ms: r.elapsedMs });
          expect(r.code, `ashyq-probe exit status; stderr:\n${r.stderr}`).toBe(0);
          expect(r.measurements.map((m) => m.target.id)).toEqual(LAB_TARGETS.map((t) => t.id));
          for (const m of r.measurements) {
            const kept = c.kept?.[m.target.id];
            if (kept !== undefined) {
              expect(m.verdict.verdict, `${m.target.id} blocked under loss (run ${i + 1}): ${m.verdict.reason}`).toBe(kept);
              continue;
            }
            if (!isBlocked(m.verdict.verdict)) continue;
            falseBlocks.push(`run ${i + 1} ${m.target.id}: ${m.verdict.verdict} (${m.verdict.confidence}): ${m.verdict.reason}`);
            expect(m.verdict.confidence, `a block on a lossy line is never a confident one: ${m.target.id}`).toBeLessThanOrEqual(LOSSY_MAX_CONFIDENCE);
          }
          expect(r.measurements[0]?.evidence.line?.loss, `the run saw the loss: ${JSON.stringify(r.measurements[0]?.evidence.line)}`).not.toBe('none');
        }
      } finally {
        await lab.lineLoss(0);
      }
      expect(falseBlocks.length, `false blocks under ${c.name}:\n${falseBlocks.join('\n')}`).toBeLessThanOrEqual(c.maxFalseBlocks);
    }, 300_000);
  }

  it('clean again once every scenario was applied and removed: the censor leaves nothing behind', async () => {
    const clean = labScenario('clean');
    if (clean === undefined) throw new Error('no clean scenario');
    const r = await runScenario(clean);
    clean.check(r);
    process.stderr.write(`lab: probe run per scenario: ${ran.map((x) => `${x.name} ${(x.ms / 1000).toFixed(1)}s`).join(', ')}\n`);
  }, 60_000);
});
