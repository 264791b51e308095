// The control stage of the collector: its own archive of control measurements, the index re-classification reads, the prober.
import path from 'node:path';
import type { Clock } from '../../common/clock.js';
import type { Measurement } from '../../contract/measurement.js';
import type { Target } from '../../contract/target.js';
import type { ControlEvidenceAnswer, SurgeAnswer } from '../../contract/wire.js';
import type { EngineOptions } from '../../probe/engine/options.js';
import { vantageDeps, vantageEngineOptions, type EngineDeps } from '../../probe/engine/vantage.js';
import { DEFAULT_CONTROL, type ControlConfig } from '../config.js';
import { Archive, utcDay, type ArchivedRecord } from '../storage/archive.js';
import { ControlIndex, type ControlVantage } from './nearest.js';
import { CONTROL_PROBE_ID, controlRefOf, ControlProber, type ControlStatus, type ControlTimers } from './prober.js';
import { ControlJudge } from './reclassify.js';

/** How the control measures, when not with the system's network and the shipped settings (tests: loopback fakes). */
export interface ControlDeps {
  deps?: EngineDeps;
  engine?: (signal: AbortSignal) => EngineOptions;
  timers?: ControlTimers;
}

/** What `GET /api/v1/control` answers. */
export interface ControlView {
  enabled: boolean;
  interval_minutes: number;
  window_minutes: number;
  vantage: { asn: number | null; cc: string | null };
  runs: number;
  failures: number;
  last_run_at: string | null;
  last_error: string | null;
  /** Seconds since the last completed run (null before the first). */
  age_s: number | null;
  /** Control probes may enroll (control.enrollment_tokens is set). */
  probes_enrolled: boolean;
  /**
   * Where the controls of the last two windows come from: the collector's own prober
   * (collector-control) and each control probe, with its network: never counted as the networks' measurements.
   */
  vantages: Array<{ probe_id: string; kind: 'collector' | 'probe'; asn: number | null; cc: string | null; controls: number; last_at: string }>;
  /** The latest control of each target, and where it was measured from. */
  targets: Array<{ target: string; id: string; at: string; verdict: string; reason: string; vantage: string }>;
}

const systemTimers: ControlTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class ControlStage {
  private constructor(
    readonly config: ControlConfig,
    readonly archive: Archive,
    readonly index: ControlIndex,
    readonly judge: ControlJudge,
    readonly prober: ControlProber | null,
    private readonly clock: Clock,
    private readonly onRun: (measurements: readonly Measurement[], vantage: ControlVantage) => void,
  ) {}

  /**
   * Open the control archive (`control/` in the data dir, apart from the probes' archive: control
   * measurements never count as a network's), fill the index from the days the window still
   * reaches, and make the prober when the control is enabled (started by `start`).
   */
  static async open(
    o: {
      dataDir: string;
      config: ControlConfig | undefined;
      targets: readonly Target[];
      byId: ReadonlyMap<string, Target>;
      clock: Clock;
      deps?: ControlDeps;
      log: { info(m: string): void; warn(m: string): void };
      /** The surge in force (the operator's and the open events'), read by the prober every minute. */
      surge?: () => Promise<SurgeAnswer | null>;
      /** Told of each completed control run, and of each control probe's batch (the InfluxDB `control_run` points). */
      onRun?: (measurements: readonly Measurement[], vantage: ControlVantage) => void;
    },
  ): Promise<ControlStage> {
    const config = o.config ?? DEFAULT_CONTROL;
    const archive = await Archive.open(path.join(o.dataDir, 'control'), o.clock);
    const index = new ControlIndex(config.window_minutes * 60_000);
    const since = o.clock.now() - index.windowMs;
    for await (const { record } of archive.read({ segment: utcDay(since), offset: 0 })) {
      if (Date.parse(record.measurement.started_at) >= since) index.add(controlRefOf(record));
    }
    const vantage = { asn: config.asn, cc: config.cc };
    const prober = !config.enabled
      ? null
      : new ControlProber({
          intervalMinutes: config.interval_minutes,
          targets: () => o.targets,
          engine: o.deps?.engine ?? ((signal) => vantageEngineOptions({ id: CONTROL_PROBE_ID, ...vantage, network: 'control' }, signal)),
          deps: o.deps?.deps ?? vantageDeps(),
          timers: o.deps?.timers ?? systemTimers,
          index,
          archive: async (records) => {
            await archive.append(records);
            index.prune(o.clock.now() - 2 * index.windowMs);
          },
          vantage,
          log: o.log,
          ...(o.surge !== undefined ? { surge: o.surge } : {}),
          ...(o.onRun !== undefined ? { onRun: (ms: readonly Measurement[]) => o.onRun!(ms, { probe_id: CONTROL_PROBE_ID, ...vantage }) } : {}),
        });
    // A probe's new failure with no control within a quarter of the interval: the target is measured on request.
    const judge = new ControlJudge(index, o.byId, (id) => prober?.request(id), (config.interval_minutes * 60_000) / 4);
    return new ControlStage(config, archive, index, judge, prober, o.clock, o.onRun ?? (() => {}));
  }

  /** Whether probes get control evidence: the collector measures, or control probes may enroll. */
  get active(): boolean {
    return this.config.enabled || this.config.enrollment_tokens.length > 0;
  }

  /**
   * A control probe's measurements (validated, with its network): archived with the control's, then
   * judging probes' measurements as the collector's own control does. An id the index has is a
   * duplicate (a batch sent again). Resolves once they are durable.
   */
  async acceptFromProbe(records: readonly ArchivedRecord[]): Promise<Array<'accepted' | 'duplicate'>> {
    const seen = new Set<string>();
    const fresh: ArchivedRecord[] = [];
    const out = records.map((r) => {
      const id = r.measurement.id;
      if (this.index.has(id) || seen.has(id)) return 'duplicate' as const;
      seen.add(id);
      fresh.push(r);
      return 'accepted' as const;
    });
    if (fresh.length === 0) return out;
    await this.archive.append(fresh);
    for (const r of fresh) this.index.add(controlRefOf(r));
    this.index.prune(this.clock.now() - 2 * this.index.windowMs);
    this.fromProbes += fresh.length;
    const first = fresh[0]!;
    this.onRun(
      fresh.map((r) => r.measurement),
      { probe_id: first.probe_id, asn: first.asn, cc: first.cc },
    );
    return out;
  }

  /** Control measurements taken from control probes since start. */
  fromProbes = 0;

  start(): void {
    this.prober?.start();
  }

  get status(): ControlStatus {
    return this.prober?.status ?? { runs: 0, failures: 0, lastRunAt: null, lastError: null };
  }

  /** Seconds since the last completed control run, null before the first. */
  ageSeconds(): number | null {
    const last = this.status.lastRunAt;
    return last === null ? null : Math.max(0, Math.round((this.clock.now() - last) / 1000));
  }

  view(): ControlView {
    const s = this.status;
    return {
      enabled: this.config.enabled,
      interval_minutes: this.config.interval_minutes,
      window_minutes: this.config.window_minutes,
      vantage: { asn: this.config.asn, cc: this.config.cc },
      runs: s.runs,
      failures: s.failures,
      last_run_at: s.lastRunAt === null ? null : new Date(s.lastRunAt).toISOString(),
      last_error: s.lastError,
      age_s: this.ageSeconds(),
      probes_enrolled: this.config.enrollment_tokens.length > 0,
      vantages: this.index.vantages().map((v) => ({
        probe_id: v.probe_id,
        kind: v.probe_id === CONTROL_PROBE_ID ? ('collector' as const) : ('probe' as const),
        asn: v.asn,
        cc: v.cc,
        controls: v.controls,
        last_at: new Date(v.last_at).toISOString(),
      })),
      targets: this.index
        .latest()
        .sort((a, b) => a.target.localeCompare(b.target))
        .map((c) => ({ target: c.target, id: c.id, at: new Date(c.at).toISOString(), verdict: c.verdict.verdict, reason: c.verdict.reason, vantage: c.vantage.probe_id })),
    };
  }

  /** The latest usable control of each target (not offline), within the window: what probes classify with. */
  evidence(): ControlEvidenceAnswer {
    const since = this.clock.now() - this.index.windowMs;
    const controls = this.index
      .latestUsable()
      .filter((c) => c.at >= since)
      .sort((a, b) => a.target.localeCompare(b.target))
      .map((c) => ({ target: c.target, id: c.id, at: new Date(c.at).toISOString(), evidence: c.evidence }));
    return { enabled: this.active, controls };
  }

  async close(): Promise<void> {
    await this.prober?.stop();
    await this.archive.close();
  }
}
