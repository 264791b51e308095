// `ashyq-probe run --once`: measure every target once and print one line (or one JSON record) per target.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadProbeConfig, targetsFileOf, type ProbeConfig } from '../config/probe-config.js';
import { loadTargets } from '../../contract/target-list.js';
import { systemDeps, type Deps } from '../deps.js';
import { engineOptionsFrom } from '../engine/options.js';
import { runTargets } from '../engine/run.js';
import type { Measurement, ProbeInfo } from '../../contract/measurement.js';
import { loadTrust } from '../trust.js';
import { version } from '../version.js';
import { formatHeader, formatLine, formatSummary } from './format.js';
import { progressReporter } from './progress.js';

export interface RunOnceArgs {
  json: boolean;
  targetsFile?: string;
  configFile?: string;
}

export interface Streams {
  out: NodeJS.WritableStream;
  err: NodeJS.WriteStream;
}

/** The trust store of a config: Node's roots, NODE_EXTRA_CA_CERTS and the config's extra CA files. */
export async function trustOf(config: ProbeConfig) {
  const extraCa = await Promise.all(config.measure.extra_ca_files.map((f) => readFile(f, 'utf8')));
  return loadTrust({ extraCa });
}

/** What a measurement says about the probe that made it. */
export function probeInfo(config: ProbeConfig, id: string): ProbeInfo {
  return {
    id,
    asn: config.probe.asn,
    cc: config.probe.cc,
    network: config.probe.network,
    software: { name: 'ashyq-probe', version },
  };
}

export async function runOnce(args: RunOnceArgs, streams: Streams, signal: AbortSignal, deps: Deps = systemDeps()): Promise<Measurement[]> {
  const config = await loadProbeConfig(args.configFile);
  const targets = await loadTargets(args.targetsFile ?? targetsFileOf(config));
  // A one-off run has no enrolled identity: it gets a fresh random id that is never reused.
  const options = engineOptionsFrom(config, probeInfo(config, `once-${randomUUID()}`), await trustOf(config), signal);
  options.onProgress = progressReporter(streams.err);
  if (!args.json) streams.out.write(`${formatHeader()}\n`);
  const measurements = await runTargets(targets, options, deps);
  for (const m of measurements) streams.out.write(`${args.json ? JSON.stringify(m) : formatLine(m)}\n`);
  if (!args.json) streams.err.write(`${formatSummary(measurements)}\n`);
  return measurements;
}
