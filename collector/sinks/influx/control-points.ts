// The control vantage's runs as InfluxDB `control_run` points (fleet health: how old the control is).
import { integerField, line, pointTimestamp } from './line.js';
import { PendingPoints } from './pending-points.js';

export const CONTROL_RUN = 'control_run';

/** One completed control run. */
export interface ControlRunPoint {
  /** When it completed (ms). */
  at: number;
  /** Where the control measures from: its country, or "control" when none is configured. */
  vantage: string;
  targets: number;
  /** Targets the control itself found failing (blocked verdicts from outside: down for probes that see the same). */
  failing: number;
  /** 1 when the whole run was offline (the control's own line was down): it judges nothing. */
  offline: boolean;
}

/** `control_run` point: tag vantage; fields targets, failing, offline (integers). Time: the run's end in ns. */
export function controlRunLine(p: ControlRunPoint): string {
  return line(
    CONTROL_RUN,
    [['vantage', p.vantage]],
    [
      ['targets', integerField(p.targets)],
      ['failing', integerField(p.failing)],
      ['offline', integerField(p.offline ? 1 : 0)],
    ],
    pointTimestamp(p.at, `${p.vantage}/${p.at}`),
  );
}

/** Control runs noted as they complete, written in the background. */
export class ControlRunPoints extends PendingPoints {
  note(p: ControlRunPoint): void {
    this.put(`${p.vantage}\u0000${p.at}`, controlRunLine(p));
  }
}
