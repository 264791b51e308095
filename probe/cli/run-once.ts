// `ashyq-probe run --once`: measure every target once and print one line (or one JSON record) per target.
import { randomUUID } from 'node:crypto';
import { loadProbeConfig, targetsFileOf } from '../config/probe-config.js';
import { loadTargets } from '../../contract/target-list.js';
import { systemDeps, type Deps } from '../deps.js';
import { engineOptionsFrom } from '../engine/options.js';
import { runTargets } from '../engine/run.js';
import type { Measurement } from '../../contract/measurement.js';
import { probeInfo } from '../probe-info.js';
import { trustOf } from '../trust.js';
import { formatHeader, formatLine, formatSummary } from './format.js';
import { progressReporter } from './progress.js';
import { describeRunLine, lineOfRun } from '../classify/line.js';

export interface RunOnceArgs {
  json: boolean;
  targetsFile?: string;
  configFile?: string;
}

export interface Streams {
  out: NodeJS.WritableStream;
  err: NodeJS.WriteStream;
}

export async function runOnce(args: RunOnceArgs, streams: Streams, signal: AbortSignal, deps: Deps = systemDeps()): Promise<Measurement[]> {
  const config = await loadProbeConfig(args.configFile);
  const targets = await loadTargets(args.targetsFile ?? targetsFileOf(config));
  // A one-off run has no enrolled identity: it gets a fresh random id that is never reused.
  const options = engineOptionsFrom(config, probeInfo(`once-${randomUUID()}`, config.probe), await trustOf(config), signal);
  options.onProgress = progressReporter(streams.err);
  if (!args.json) streams.out.write(`${formatHeader()}\n`);
  const measurements = await runTargets(targets, options, deps);
  for (const m of measurements) streams.out.write(`${args.json ? JSON.stringify(m) : formatLine(m)}\n`);
  if (!args.json) streams.err.write(`${formatSummary(measurements)}\n`);
  // Said on the terminal in both forms: a volunteer behind a portal must know the run measured nothing.
  const line = describeRunLine(lineOfRun(measurements));
  if (line !== null) streams.err.write(`line: ${line}\n`);
  return measurements;
}
