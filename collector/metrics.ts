// Ingest counters and the Prometheus text exposition of /metrics.
import type { ItemStatus } from '../contract/wire.js';

export interface SinkStatus {
  name: string;
  backlog(): number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** The blocking events' side of /metrics, read when it is rendered. */
export interface EventMetricsSource {
  /** Events open now. */
  openEvents(): number;
  /** The detector's work since start (main-thread seconds) and the observations it counted. */
  work?(): { busySeconds: number; observations: number };
  /** The webhook's outbox, or null without a webhook. */
  webhook: { backlog(): number; failures(): { error: number; refused: number } } | null;
}

/** The control vantage's side of /metrics, read when it is rendered. */
export interface ControlMetricsSource {
  enabled: boolean;
  runs: number;
  failures: number;
  /** Seconds since the last completed control run, null before the first. */
  ageSeconds: number | null;
  /** Measurements judged with a control since start. */
  judged: number;
  /** Control measurements taken from control probes since start. */
  fromProbes: number;
}

export class Metrics {
  private readonly revisions = new Map<string, number>();
  private events: EventMetricsSource | null = null;
  private control: (() => ControlMetricsSource) | null = null;
  private readonly measurements = new Map<ItemStatus, number>([
    ['accepted', 0],
    ['duplicate', 0],
    ['rejected', 0],
  ]);
  private readonly rejects = new Map<string, number>();
  private readonly batches = new Map<string, number>();
  private spoolOverflow = { reports: 0, dropped: 0 };
  private surge: { targets: number; until: number } | null = null;
  private eventSurges = 0;

  countItem(status: ItemStatus, reason?: string): void {
    this.measurements.set(status, (this.measurements.get(status) ?? 0) + 1);
    if (status === 'rejected' && reason !== undefined) this.countReject(reason);
  }

  /** A rejection by reason code: per item (schema, unknown_target, ...) or whole batch (bad_gzip, replay, ...). */
  countReject(reason: string): void {
    this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + 1);
  }

  countBatch(outcome: 'ok' | 'error'): void {
    this.batches.set(outcome, (this.batches.get(outcome) ?? 0) + 1);
  }

  /** Totals of the probes' spool-overflow reports, as kept in the store (set at start and after each report). */
  setSpoolOverflow(totals: { reports: number; dropped: number }): void {
    this.spoolOverflow = { ...totals };
  }

  /** The surge served now (set whenever the server looks at it), or null. */
  setSurge(surge: { targets: readonly string[]; until: string } | null): void {
    this.surge = surge === null ? null : { targets: surge.targets.length, until: Date.parse(surge.until) };
  }

  /** Open events asking probes on their networks for a surge now (set whenever /metrics is rendered). */
  setEventSurges(count: number): void {
    this.eventSurges = count;
  }

  /** Revisions of blocking events saved by the detector, by type. */
  countRevisions(revisions: ReadonlyArray<{ type: string }>): void {
    for (const r of revisions) this.revisions.set(r.type, (this.revisions.get(r.type) ?? 0) + 1);
  }

  /** Where the events' gauges come from (set once by the collector's wiring). */
  watchControl(source: () => ControlMetricsSource): void {
    this.control = source;
  }

  watchEvents(source: EventMetricsSource): void {
    this.events = source;
  }

  spoolOverflowTotals(): { reports: number; dropped: number } {
    return { ...this.spoolOverflow };
  }

  measurementCount(status: ItemStatus): number {
    return this.measurements.get(status) ?? 0;
  }

  rejectCount(reason: string): number {
    return this.rejects.get(reason) ?? 0;
  }

  render(sinks: readonly SinkStatus[], probesRegistered: number): string {
    const lines: string[] = [];
    lines.push('# HELP ashyq_ingest_measurements_total Measurements answered, by status.');
    lines.push('# TYPE ashyq_ingest_measurements_total counter');
    for (const [status, n] of this.measurements) lines.push(`ashyq_ingest_measurements_total{status="${status}"} ${n}`);
    lines.push('# HELP ashyq_ingest_rejects_total Rejections by reason: of single measurements and of whole requests.');
    lines.push('# TYPE ashyq_ingest_rejects_total counter');
    for (const [reason, n] of [...this.rejects].sort()) lines.push(`ashyq_ingest_rejects_total{reason="${escapeLabel(reason)}"} ${n}`);
    lines.push('# HELP ashyq_ingest_batches_total Measurement uploads answered, by outcome.');
    lines.push('# TYPE ashyq_ingest_batches_total counter');
    for (const outcome of ['ok', 'error']) lines.push(`ashyq_ingest_batches_total{outcome="${outcome}"} ${this.batches.get(outcome) ?? 0}`);
    lines.push('# HELP ashyq_influx_backlog Archived measurements not yet written to a time-series sink.');
    lines.push('# TYPE ashyq_influx_backlog gauge');
    for (const sink of sinks) {
      let backlog: number;
      try {
        backlog = sink.backlog();
      } catch {
        backlog = Number.NaN;
      }
      lines.push(`ashyq_influx_backlog{sink="${escapeLabel(sink.name)}"} ${Number.isFinite(backlog) ? backlog : 'NaN'}`);
    }
    lines.push('# HELP ashyq_probe_spool_dropped_total Measurements probes dropped because their spool was full, as reported by them.');
    lines.push('# TYPE ashyq_probe_spool_dropped_total counter');
    lines.push(`ashyq_probe_spool_dropped_total ${this.spoolOverflow.dropped}`);
    lines.push('# HELP ashyq_probe_spool_overflow_reports_total Spool-overflow reports received (a resent report counts once).');
    lines.push('# TYPE ashyq_probe_spool_overflow_reports_total counter');
    lines.push(`ashyq_probe_spool_overflow_reports_total ${this.spoolOverflow.reports}`);
    lines.push('# HELP ashyq_probes_registered Probes registered with this collector.');
    lines.push('# TYPE ashyq_probes_registered gauge');
    lines.push(`ashyq_probes_registered ${probesRegistered}`);
    lines.push('# HELP ashyq_surge_active Whether probes are asked for a surge now (1) or not (0).');
    lines.push('# TYPE ashyq_surge_active gauge');
    lines.push(`ashyq_surge_active ${this.surge === null ? 0 : 1}`);
    lines.push('# HELP ashyq_surge_targets Targets named by the current surge (0 without one).');
    lines.push('# TYPE ashyq_surge_targets gauge');
    lines.push(`ashyq_surge_targets ${this.surge?.targets ?? 0}`);
    lines.push('# HELP ashyq_surge_until_seconds End of the current surge, Unix seconds (0 without one).');
    lines.push('# TYPE ashyq_surge_until_seconds gauge');
    lines.push(`ashyq_surge_until_seconds ${this.surge === null ? 0 : Math.floor(this.surge.until / 1000)}`);
    lines.push('# HELP ashyq_event_surges_active Open events asking probes on their networks for a surge now.');
    lines.push('# TYPE ashyq_event_surges_active gauge');
    lines.push(`ashyq_event_surges_active ${this.eventSurges}`);
    this.renderEvents(lines);
    this.renderControl(lines);
    return `${lines.join('\n')}\n`;
  }

  private renderControl(lines: string[]): void {
    if (this.control === null) return;
    const c = this.control();
    lines.push('# HELP ashyq_control_enabled Whether the collector measures the targets itself as the control vantage (1) or not (0).');
    lines.push('# TYPE ashyq_control_enabled gauge');
    lines.push(`ashyq_control_enabled ${c.enabled ? 1 : 0}`);
    lines.push('# HELP ashyq_control_runs_total Control runs over the target list completed since start.');
    lines.push('# TYPE ashyq_control_runs_total counter');
    lines.push(`ashyq_control_runs_total ${c.runs}`);
    lines.push('# HELP ashyq_control_failures_total Control runs that failed since start.');
    lines.push('# TYPE ashyq_control_failures_total counter');
    lines.push(`ashyq_control_failures_total ${c.failures}`);
    lines.push('# HELP ashyq_control_age_seconds Seconds since the last completed control run (NaN before the first).');
    lines.push('# TYPE ashyq_control_age_seconds gauge');
    lines.push(`ashyq_control_age_seconds ${c.ageSeconds === null ? 'NaN' : c.ageSeconds}`);
    lines.push('# HELP ashyq_control_judged_total Measurements judged again with a control since start (both verdicts kept).');
    lines.push('# TYPE ashyq_control_judged_total counter');
    lines.push(`ashyq_control_judged_total ${c.judged}`);
    lines.push('# HELP ashyq_control_probe_measurements_total Control measurements uploaded by probes enrolled with the control role since start (archived as control, never as a network\'s).');
    lines.push('# TYPE ashyq_control_probe_measurements_total counter');
    lines.push(`ashyq_control_probe_measurements_total ${c.fromProbes}`);
  }

  private renderEvents(lines: string[]): void {
    const read = (f: () => number): string => {
      try {
        const n = f();
        return Number.isFinite(n) ? String(n) : 'NaN';
      } catch {
        return 'NaN';
      }
    };
    const source = this.events;
    lines.push('# HELP ashyq_events_open Blocking events open now.');
    lines.push('# TYPE ashyq_events_open gauge');
    lines.push(`ashyq_events_open ${source === null ? 0 : read(() => source.openEvents())}`);
    lines.push('# HELP ashyq_event_revisions_total Revisions of blocking events saved since start, by type.');
    lines.push('# TYPE ashyq_event_revisions_total counter');
    for (const type of ['opened', 'changed', 'closed', 'reopened', 'retracted']) lines.push(`ashyq_event_revisions_total{type="${type}"} ${this.revisions.get(type) ?? 0}`);
    const work = source?.work?.() ?? { busySeconds: 0, observations: 0 };
    lines.push('# HELP ashyq_event_detector_seconds_total Main-thread time the event detector spent counting measurements, deriving and saving events since start.');
    lines.push('# TYPE ashyq_event_detector_seconds_total counter');
    lines.push(`ashyq_event_detector_seconds_total ${work.busySeconds.toFixed(6)}`);
    lines.push('# HELP ashyq_event_detector_observations_total Measurements the event detector counted since start.');
    lines.push('# TYPE ashyq_event_detector_observations_total counter');
    lines.push(`ashyq_event_detector_observations_total ${work.observations}`);
    const webhook = source?.webhook ?? null;
    lines.push('# HELP ashyq_webhook_backlog Event revisions not yet delivered to the webhook (0 without one).');
    lines.push('# TYPE ashyq_webhook_backlog gauge');
    lines.push(`ashyq_webhook_backlog ${webhook === null ? 0 : read(() => webhook.backlog())}`);
    const failures = webhook?.failures() ?? { error: 0, refused: 0 };
    lines.push('# HELP ashyq_webhook_failures_total Failed webhook deliveries since start: attempts retried (error) and revisions the receiver refused and that were skipped (refused).');
    lines.push('# TYPE ashyq_webhook_failures_total counter');
    lines.push(`ashyq_webhook_failures_total{reason="error"} ${failures.error}`);
    lines.push(`ashyq_webhook_failures_total{reason="refused"} ${failures.refused}`);
  }
}
