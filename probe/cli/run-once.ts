// `ashyq-probe run --once`: measure every target once and print one line (or one JSON record) per target.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadProbeConfig, targetsFileOf, type ProbeConfig } from '../config/probe-config.js';
import { loadTargets } from '../config/targets.js';
import { systemDeps, type Deps } from '../deps.js';
import { ENGINE_DEFAULTS, type EngineOptions } from '../engine/options.js';
import { runTargets } from '../engine/run.js';
import type { Measurement } from '../measurement.js';
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

/** Engine options from a validated probe config (the probe id is supplied by the caller). */
export async function engineOptionsFrom(config: ProbeConfig, probeId: string, signal?: AbortSignal): Promise<EngineOptions> {
  const m = config.measure;
  const extraCa = await Promise.all(m.extra_ca_files.map((f) => readFile(f, 'utf8')));
  return {
    probe: {
      id: probeId,
      asn: config.probe.asn,
      cc: config.probe.cc,
      network: config.probe.network,
      software: { name: 'ashyq-probe', version },
    },
    resolvers: m.resolvers,
    controlDoh: m.control_doh,
    qtypes: m.qtypes,
    timeoutMs: m.timeout_ms,
    listenWindowMs: m.dns_listen_window_ms,
    concurrency: m.concurrency,
    perHostConcurrency: m.per_host_concurrency,
    neutralSni: m.neutral_sni,
    maxAddressesPerDomain: ENGINE_DEFAULTS.maxAddressesPerDomain,
    maxBodyBytes: ENGINE_DEFAULTS.maxBodyBytes,
    trust: loadTrust({ extraCa }),
    ...(signal ? { signal } : {}),
  };
}

export async function runOnce(args: RunOnceArgs, streams: Streams, signal: AbortSignal, deps: Deps = systemDeps()): Promise<Measurement[]> {
  const config = await loadProbeConfig(args.configFile);
  const targets = await loadTargets(args.targetsFile ?? targetsFileOf(config));
  // A one-off run has no enrolled identity: it gets a fresh random id that is never reused.
  const options = await engineOptionsFrom(config, `once-${randomUUID()}`, signal);
  options.onProgress = progressReporter(streams.err);
  if (!args.json) streams.out.write(`${formatHeader()}\n`);
  const measurements = await runTargets(targets, options, deps);
  for (const m of measurements) streams.out.write(`${args.json ? JSON.stringify(m) : formatLine(m)}\n`);
  if (!args.json) streams.err.write(`${formatSummary(measurements)}\n`);
  return measurements;
}
