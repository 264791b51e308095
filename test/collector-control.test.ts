// The control vantage at the collector: the nearest-control choice, and re-classification keeping both verdicts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { formatTargets } from '../contract/target-list.js';
import { runOnce } from '../probe/cli/run-once.js';
import { connectSocket } from '../probe/deps.js';
import type { ControlConfig } from '../collector/config.js';
import type { ControlView } from '../collector/control/stage.js';
import type { ControlEvidenceAnswer } from '../contract/wire.js';
import { targetList } from '../collector/targets/list.js';
import { runTargets } from '../probe/engine/run.js';
import { ManualClock, newKeyPair, request, startCollector } from './fixtures/collector/helpers.js';
import type { BatchAnswer, SurgeAnswer } from '../contract/wire.js';
import { CONTROL_SURGE_TICK_MS, ControlProber } from '../collector/control/prober.js';
import type { ScenarioCase } from './loopback/scenario.js';
import { buildWorld, CANARIES, startLab, type Lab, type World } from './loopback/world.js';
import { ControlIndex, type ControlRef } from '../collector/control/nearest.js';
import { reclassify } from '../collector/control/reclassify.js';
import { MEASUREMENT_SCHEMA, type Measurement } from '../contract/measurement.js';
import type { Evidence } from '../contract/evidence.js';
import type { Decision } from '../contract/verdict.js';
import { classify } from '../probe/classify/classify.js';
import { change, healthy, target } from './classify-builders.js';

const MIN = 60_000;
const T = Date.parse('2024-05-09T07:00:00Z');
const site = target({ id: 'facebook', domains: ['www.facebook.com'] });
const ok: Decision = { verdict: 'ok', layer: null, confidence: 0.9, reason: 'works', subjects: [] };
const offline: Decision = { verdict: 'offline', layer: null, confidence: 0.9, reason: 'probe offline', subjects: [] };

const control = (id: string, minutes: number, over: Partial<ControlRef> = {}): ControlRef => ({
  id,
  target: 'facebook',
  at: T + minutes * MIN,
  evidence: healthy(site),
  verdict: ok,
  vantage: { probe_id: 'collector-control', asn: 3320, cc: 'DE' },
  ...over,
});

describe('ControlIndex.nearest', () => {
  const index = new ControlIndex(30 * MIN);
  for (const c of [control('c-20', -20), control('c+5', 5), control('c+40', 40), control('c-5-offline', -4, { verdict: offline })]) index.add(c);

  it.each([
    { about: 'several within the window: the nearest in time', at: 0, want: 'c+5' },
    { about: 'an offline control is skipped for the next nearest', at: -5, want: 'c+5' },
    { about: 'only one within the window', at: 35, want: 'c+40' },
    { about: 'on a tie, the earlier', at: -7.5, want: 'c-20' },
  ])('$about', ({ at, want }) => {
    // -7.5 min: c-20 is 12.5 away, c+5 12.5 away (c-5-offline skipped).
    expect(index.nearest('facebook', T + at * MIN)?.id).toBe(want);
  });

  it('none within the window (too old, too new): null', () => {
    expect(index.nearest('facebook', T - 60 * MIN)).toBeNull();
    expect(index.nearest('facebook', T + 80 * MIN)).toBeNull();
  });

  it('no control of the target at all: null', () => {
    expect(index.nearest('youtube', T)).toBeNull();
  });

  it('adding the same control twice keeps one; prune keeps the latest of each target', () => {
    const i = new ControlIndex(30 * MIN);
    i.add(control('a', 0));
    i.add(control('a', 0));
    i.add(control('b', 10));
    expect(i.size).toBe(2);
    i.prune(T + 60 * MIN);
    expect(i.size).toBe(1);
    expect(i.latest().map((c) => c.id)).toEqual(['b']);
  });

  it('rejects a window that is not a positive number', () => {
    expect(() => new ControlIndex(0)).toThrow(/positive number of ms: 0/);
  });
});

function measurement(evidence: Evidence): Measurement {
  return {
    schema: MEASUREMENT_SCHEMA,
    id: '01HXAMPLE0000000000000000A',
    probe: { id: 'probe-0001', asn: 9198, cc: 'KZ', network: null, software: { name: 'ashyq-probe', version: 'test' } },
    target: { id: site.id, category: site.category },
    started_at: new Date(T).toISOString(),
    runtime_ms: 100,
    evidence,
    timing: { dns: 1, tcp: 1, tls: 1, http: 1 },
    verdict: classify(site, evidence),
  };
}

describe('reclassify: the collector keeps both verdicts', () => {
  const refused = change(healthy(site), 'tcp', () => true, (t) => ({ ...t, failure: 'connection_refused', rtt_ms: null }));

  it('the control fails the same way: down, with the control named; the probe verdict is untouched', () => {
    const m = measurement(refused);
    const r = reclassify(m, site, control('c1', 0, { evidence: refused }));
    expect(m.verdict.verdict).toBe('tcp.refused');
    expect([r.verdict.verdict, r.control_id]).toEqual(['down', 'c1']);
  });

  it('the control reaches the site: the block stands, judged with the control', () => {
    const r = reclassify(measurement(refused), site, control('c2', 0));
    expect([r.verdict.verdict, r.control_id]).toEqual(['tcp.refused', 'c2']);
  });

  it('no control, an unknown target, or an offline measurement: the probe verdict stands', () => {
    const m = measurement(refused);
    expect(reclassify(m, site, null)).toEqual({ verdict: m.verdict, control_id: null });
    expect(reclassify(m, undefined, control('c3', 0))).toEqual({ verdict: m.verdict, control_id: null });
    const off = { ...m, verdict: offline };
    expect(reclassify(off, site, control('c4', 0, { evidence: refused }))).toEqual({ verdict: offline, control_id: null });
  });
});

interface Shown {
  decision: { verdict: string };
  probe_decision: { verdict: string };
  control_id: string | null;
}

/** GET /api/v1/measurements/:id, asked until the measurement index (which follows the archive) has it. */
async function shownRecord(url: string, id: string): Promise<Shown> {
  for (let i = 0; i < 50; i++) {
    const res = await request(`${url}/api/v1/measurements/${id}`);
    if (res.status === 200) return (res.json() as { measurement: Shown }).measurement;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the measurement never reached the index');
}

describe('the control vantage in a running collector', () => {
  const universe = ['www.facebook.com', ...CANARIES.flatMap((t) => t.domains)];
  let lab: Lab;
  beforeAll(async () => {
    lab = await startLab(universe);
  });
  afterAll(async () => {
    await lab?.close();
  });

  const facebook: ScenarioCase = { name: 'facebook', target: { id: 'facebook', domains: ['www.facebook.com'] }, censor: {}, expect: { verdict: 'ok' } };
  const refusing: ScenarioCase = { ...facebook, censor: { tcp: { 'www.facebook.com': 'refuse' } }, expect: { verdict: 'tcp.refused' } };

  /** A collector whose control measures through `world`, the schedule driven by hand (the test runs the control). */
  function controlledCollector(world: World, control: Partial<ControlConfig> = { enabled: true }) {
    return startCollector({
      clock: new ManualClock(Date.now()),
      targets: targetList(world.targets),
      control,
      deps: { control: { deps: world.deps, engine: (signal) => ({ ...world.options, signal }), timers: { setTimeout: () => null, clearTimeout: () => {} } } },
    });
  }

  /**
   * A collector whose control measures through `control` (the uncensored side), and a probe's
   * measurement of Facebook taken through `probe` (the censored side), uploaded after one control run.
   */
  async function judged(control: ScenarioCase, probe: ScenarioCase) {
    const [controlWorld, probeWorld] = await Promise.all([buildWorld(lab, control, { timeoutMs: 1500, listenWindowMs: 50 }), buildWorld(lab, probe, { timeoutMs: 1500, listenWindowMs: 50 })]);
    const running = await controlledCollector(controlWorld, { enabled: true, interval_minutes: 60, window_minutes: 90, asn: 3320, cc: 'DE' });
    try {
      await running.collector.control.prober!.runOnce();
      const registered = await running.register();
      const [m] = await runTargets(probeWorld.targets.slice(0, 1), { ...probeWorld.options, probe: { ...probeWorld.options.probe, id: registered.id } }, probeWorld.deps);
      const answer = await running.post(registered, [m]);
      expect(answer.status, answer.text).toBe(200);
      const records = [];
      for await (const { record } of running.collector.archive.read()) records.push(record);
      const view = (await request(`${running.url}/api/v1/control`)).json() as ControlView;
      const metrics = (await request(`${running.url}/metrics`)).text;
      const shown = await shownRecord(running.url, m!.id);
      const served = (await request(`${running.url}/api/v1/control/evidence`)).json() as ControlEvidenceAnswer;
      return { m: m!, records, view, metrics, shown, served };
    } finally {
      await running.dispose();
      await Promise.all([controlWorld.close(), probeWorld.close()]);
    }
  }

  it('the site refuses everyone, the control too: the probe says tcp.refused, the collector stores down, with the control named', async () => {
    const r = await judged(refusing, refusing);
    expect(r.m.verdict.verdict).toBe('tcp.refused');
    expect(r.records).toHaveLength(1);
    const control = r.view.targets.find((t) => t.target === 'facebook')!;
    expect(control.verdict).toBe('tcp.refused');
    expect(r.records[0]!.collector).toEqual({ verdict: expect.objectContaining({ verdict: 'down' }), control_id: control.id });
    expect(r.records[0]!.measurement.verdict.verdict, 'the probe verdict is kept as it came').toBe('tcp.refused');
    expect([r.shown.decision.verdict, r.shown.probe_decision.verdict, r.shown.control_id]).toEqual(['down', 'tcp.refused', control.id]);
    expect(r.view).toMatchObject({ enabled: true, runs: 1, failures: 0, vantage: { asn: 3320, cc: 'DE' } });
    expect(r.metrics).toMatch(/^ashyq_control_runs_total 1$/m);
    expect(r.metrics).toMatch(/^ashyq_control_judged_total 1$/m);
    expect(r.metrics).toMatch(/^ashyq_control_age_seconds 0$/m);
    // What probes fetch to classify with: every target's latest control, its evidence whole.
    expect(r.served.enabled).toBe(true);
    const served = r.served.controls.find((c) => c.target === 'facebook')!;
    expect([served.id, served.evidence.tcp.map((t) => t.failure)]).toEqual([control.id, ['connection_refused']]);
  }, 30_000);

  it('a collector without the control vantage says so to probes, with no controls', async () => {
    const running = await startCollector();
    try {
      expect((await request(`${running.url}/api/v1/control/evidence`)).json()).toEqual({ enabled: false, controls: [] });
      expect((await request(`${running.url}/api/v1/control`)).json()).toMatchObject({ enabled: false, runs: 0, targets: [] });
    } finally {
      await running.dispose();
    }
  });

  it('only the censored side is refused, the control reaches the site: the block stands', async () => {
    const r = await judged(facebook, refusing);
    expect(r.view.targets.find((t) => t.target === 'facebook')?.verdict).toBe('ok');
    expect(r.records[0]!.collector?.verdict.verdict).toBe('tcp.refused');
    expect(r.shown.decision.verdict).toBe('tcp.refused');
  }, 30_000);

  it('a probe reports a failure no control judged: the control measures that target (and the canaries) at once, at most once per 10 minutes', async () => {
    const world = await buildWorld(lab, refusing, { timeoutMs: 1500, listenWindowMs: 50 });
    const running = await controlledCollector(world);
    try {
      const probe = await running.register();
      const prober = running.collector.control.prober!;
      const [first] = await runTargets(world.targets.slice(0, 1), { ...world.options, probe: { ...world.options.probe, id: probe.id } }, world.deps);
      expect((await running.post(probe, [first])).status).toBe(200);
      await prober.settled();
      expect(prober.status.runs, 'one run on request').toBe(1);
      const view = running.collector.control.view();
      expect(view.targets.map((t) => t.target).sort()).toEqual(world.targets.map((t) => t.id).sort());
      // The next failure is judged with that control, and asks for no other run.
      const [second] = await runTargets(world.targets.slice(0, 1), { ...world.options, probe: { ...world.options.probe, id: probe.id } }, world.deps);
      expect((await running.post(probe, [second])).status).toBe(200);
      await prober.settled();
      expect(prober.status.runs).toBe(1);
      expect((await shownRecord(running.url, second!.id)).decision.verdict).toBe('down');
      expect(prober.request('facebook'), 'rate-limited').toBe(false);
    } finally {
      await running.dispose();
      await world.close();
    }
  }, 30_000);

  it('run --once with a collector configured fetches its control evidence and judges with it: down on the probe too', async () => {
    const world = await buildWorld(lab, refusing, { timeoutMs: 1500, listenWindowMs: 50 });
    const running = await controlledCollector(world);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-once-control-'));
    try {
      await running.collector.control.prober!.runOnce();
      const udp = world.options.resolvers.find((r) => r.kind === 'udp') as { address: string; port: number };
      await writeFile(path.join(dir, 'targets.yaml'), formatTargets(world.targets));
      await writeFile(path.join(dir, 'root.pem'), lab.pki.root);
      const collectorPort = Number(new URL(running.url).port);
      await writeFile(
        path.join(dir, 'probe.yaml'),
        [
          'measure:',
          '  timeout_ms: 1500',
          '  dns_listen_window_ms: 50',
          `  resolvers: [system, "udp:${udp.address}:${udp.port}"]`,
          '  extra_ca_files: [root.pem]',
          '  bulk_max_kb: 0',
          'targets_file: targets.yaml',
          'collector:',
          `  url: ${running.url}`,
          '',
        ].join('\n'),
      );
      // The collector on loopback as it is; the sites through the world's address map.
      const network = world.deps.network;
      const deps = {
        clock: systemClock,
        network: { ...network, dialTcp: (ip: string, port: number, signal: AbortSignal) => (ip === '127.0.0.1' && port === collectorPort ? connectSocket(ip, port, signal) : network.dialTcp(ip, port, signal)) },
      };
      let out = '';
      const sink = new Writable({ write: (chunk, _enc, done) => ((out += String(chunk)), done()) });
      const err = Object.assign(new Writable({ write: (_chunk, _enc, done) => done() }), { isTTY: false }) as unknown as NodeJS.WriteStream;
      const ms = await runOnce({ json: true, configFile: path.join(dir, 'probe.yaml') }, { out: sink, err }, new AbortController().signal, deps);
      const fb = ms.find((m) => m.target.id === 'facebook')!;
      expect(fb.verdict.verdict, fb.verdict.reason).toBe('down');
      expect(out).toContain('"verdict":"down"');
    } finally {
      await running.dispose();
      await world.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('a probe enrolled with a control token (abroad): its measurements are control evidence, archived and shown apart, and judge the probes of the measured networks', async () => {
    const CONTROL_TOKEN = 'control-enrollment-token-0123';
    const [abroad, censored] = await Promise.all([buildWorld(lab, refusing, { timeoutMs: 1500, listenWindowMs: 50 }), buildWorld(lab, refusing, { timeoutMs: 1500, listenWindowMs: 50 })]);
    const running = await startCollector({ clock: new ManualClock(Date.now()), targets: targetList(abroad.targets), control: { enabled: false, enrollment_tokens: [CONTROL_TOKEN] } });
    try {
      const keys = newKeyPair();
      const enrolled = await request(`${running.url}/api/v1/probes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ enrollment_token: CONTROL_TOKEN, public_key: keys.publicKeyPem }),
      });
      expect(enrolled.status, enrolled.text).toBe(201);
      const controlProbe = { id: (enrolled.json() as { probe_id: string }).probe_id, ...keys };
      expect(running.collector.store.probe(controlProbe.id)?.role).toBe('control');
      const volunteer = await running.register();
      expect(running.collector.store.probe(volunteer.id)?.role).toBe('probe');

      const [c] = await runTargets(abroad.targets.slice(0, 1), { ...abroad.options, probe: { ...abroad.options.probe, id: controlProbe.id } }, abroad.deps);
      const first = await running.post(controlProbe, [c]);
      expect(first.status, first.text).toBe(200);
      expect((first.json() as BatchAnswer).results.map((r) => r.status)).toEqual(['accepted']);
      running.clock.advance(1000); // another signed request, the same measurement
      const again = await running.post(controlProbe, [c]);
      expect((again.json() as BatchAnswer).results.map((r) => r.status), 'sent again: a duplicate').toEqual(['duplicate']);

      // What probes fetch: the control probe's evidence, though the collector does not measure itself.
      const served = (await request(`${running.url}/api/v1/control/evidence`)).json() as ControlEvidenceAnswer;
      expect([served.enabled, served.controls.map((x) => x.id)]).toEqual([true, [c!.id]]);
      const view = (await request(`${running.url}/api/v1/control`)).json() as ControlView;
      expect(view).toMatchObject({ enabled: false, probes_enrolled: true, runs: 0 });
      expect(view.vantages).toEqual([{ probe_id: controlProbe.id, kind: 'probe', asn: c!.probe.asn, cc: c!.probe.cc, controls: 1, last_at: c!.started_at }]);
      expect(view.targets).toEqual([expect.objectContaining({ target: 'facebook', id: c!.id, verdict: 'tcp.refused', vantage: controlProbe.id })]);
      expect((await request(`${running.url}/metrics`)).text).toMatch(/^ashyq_control_probe_measurements_total 1$/m);

      // A volunteer refused the same way: down, judged with the control probe's measurement.
      const [m] = await runTargets(censored.targets.slice(0, 1), { ...censored.options, probe: { ...censored.options.probe, id: volunteer.id } }, censored.deps);
      expect((await running.post(volunteer, [m])).status).toBe(200);
      const shown = await shownRecord(running.url, m!.id);
      expect([shown.decision.verdict, shown.probe_decision.verdict, shown.control_id]).toEqual(['down', 'tcp.refused', c!.id]);

      // Apart everywhere: the control probe's measurement is in the control archive only, and in no aggregate.
      const probes = [];
      for await (const x of running.collector.archive.read()) probes.push(x.record.measurement.id);
      const controls = [];
      for await (const x of running.collector.control.archive.read()) controls.push([x.record.probe_id, x.record.measurement.id]);
      expect(probes).toEqual([m!.id]);
      expect(controls).toEqual([[controlProbe.id, c!.id]]);
      expect(running.collector.store.aggregates().reduce((n, r) => n + r.count, 0)).toBe(1);
      expect(running.collector.store.probe(controlProbe.id)?.last_seen, 'seen, as any probe').not.toBeNull();
    } finally {
      await running.dispose();
      await Promise.all([abroad.close(), censored.close()]);
    }
  }, 30_000);

  it("a surge (the operator's or an open event's) makes the control measure its targets as often as the probes do, with the canaries", async () => {
    const world = await buildWorld(lab, facebook, { timeoutMs: 1500, listenWindowMs: 50 });
    let offset = 0;
    const clock = { now: () => Date.now() + offset, monotonic: () => performance.now() };
    let surge: SurgeAnswer | null = null;
    const timers: Array<{ ms: number }> = [];
    const index = new ControlIndex(90 * MIN);
    const prober = new ControlProber({
      intervalMinutes: 60,
      targets: () => world.targets,
      engine: (signal) => ({ ...world.options, signal }),
      deps: { ...world.deps, clock },
      timers: { setTimeout: (_fn, ms) => timers.push({ ms }), clearTimeout: () => {} },
      index,
      archive: async () => {},
      vantage: { asn: null, cc: null },
      log: { info: () => {}, warn: () => {} },
      surge: async () => surge,
    });
    try {
      prober.start();
      expect(timers.map((t) => t.ms).sort((a, b) => a - b), 'the first run at once, the surge looked for every minute').toEqual([0, CONTROL_SURGE_TICK_MS]);
      expect(await prober.surgeTick(), 'no surge: nothing').toBe(false);
      surge = { targets: ['facebook'], interval_minutes: 10, until: new Date(clock.now() + 3600_000).toISOString() };
      expect(await prober.surgeTick()).toBe(true);
      await prober.settled();
      expect(prober.status.runs).toBe(1);
      expect(index.latest().map((c) => c.target).sort(), 'the surged target and the canaries').toEqual(world.targets.map((t) => t.id).sort());
      expect(await prober.surgeTick(), 'measured within the surge interval: not again').toBe(false);
      offset += 10 * MIN;
      expect(await prober.surgeTick(), 'ten minutes later: again').toBe(true);
      await prober.settled();
      expect(prober.status.runs).toBe(2);
      offset += 10 * MIN;
      surge = { ...surge, interval_minutes: 60 };
      expect(await prober.surgeTick(), 'no more often than the schedule: nothing to add').toBe(false);
      surge = { ...surge, interval_minutes: 10, until: new Date(clock.now() - 1).toISOString() };
      expect(await prober.surgeTick(), 'an ended surge: nothing').toBe(false);
    } finally {
      await prober.stop();
      await world.close();
    }
  }, 30_000);

  it("the control measurements are kept apart: in the control archive, never in the probes' archive", async () => {
    const world = await buildWorld(lab, facebook, { timeoutMs: 1500, listenWindowMs: 50 });
    const running = await controlledCollector(world);
    try {
      await running.collector.control.prober!.runOnce();
      const probes = [];
      for await (const x of running.collector.archive.read()) probes.push(x);
      const controls = [];
      for await (const x of running.collector.control.archive.read()) controls.push(x.record);
      expect(probes).toEqual([]);
      expect(controls.map((c) => c.measurement.target.id).sort()).toEqual(world.targets.map((t) => t.id).sort());
      expect(controls.every((c) => c.probe_id === 'collector-control')).toBe(true);
    } finally {
      await running.dispose();
      await world.close();
    }
  }, 30_000);
});
