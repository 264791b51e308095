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
import { generateKeyPairSync } from 'node:crypto';
import type { ProbeConfig } from '../config/probe-config.js';
import { CONTROL_FETCH_TIMEOUT_MS, fetchControlSet } from '../daemon/controls.js';
import type { ControlSet } from '../engine/options.js';
import { newProbeId } from '../identity.js';
import { CollectorClient } from '../upload/client.js';

export interface RunOnceArgs {
  json: boolean;
  targetsFile?: string;
  configFile?: string;
}

export interface Streams {
  out: NodeJS.WritableStream;
  err: NodeJS.WriteStream;
}

/**
 * The collector's control evidence for a one-off run, over the same pinned channel the daemon uses
 * (the request is not signed: a one-off run has no enrolled identity, so a throwaway key stands in).
 */
async function controlsOf(c: NonNullable<ProbeConfig['collector']>, deps: Deps, err: NodeJS.WritableStream): Promise<ControlSet | undefined> {
  const identity = { probeId: newProbeId(), privateKey: generateKeyPairSync('ed25519').privateKey, publicKeyPem: '', registered: false };
  let client: CollectorClient;
  try {
    client = new CollectorClient(
      { url: c.url, pinSpkiSha256: c.pin_spki_sha256, proxy: c.proxy, enrollmentToken: c.enrollment_token, timeoutMs: CONTROL_FETCH_TIMEOUT_MS },
      identity,
      { clock: deps.clock, network: deps.network },
    );
  } catch (e) {
    err.write(`control evidence: ${(e as Error).message}; the run is judged without it\n`);
    return undefined;
  }
  try {
    return await fetchControlSet(client, (_level, message) => err.write(`${message}\n`), c.control_max_age_minutes * 60_000);
  } finally {
    await client.close();
  }
}

export async function runOnce(args: RunOnceArgs, streams: Streams, signal: AbortSignal, deps: Deps = systemDeps()): Promise<Measurement[]> {
  const config = await loadProbeConfig(args.configFile);
  const targets = await loadTargets(args.targetsFile ?? targetsFileOf(config));
  // A one-off run has no enrolled identity: it gets a fresh random id that is never reused.
  const options = engineOptionsFrom(config, probeInfo(`once-${randomUUID()}`, config.probe), await trustOf(config), signal);
  options.onProgress = progressReporter(streams.err);
  // With a collector configured, the run is judged with its control vantage's evidence (when it has one).
  const controls = config.collector === null ? undefined : await controlsOf(config.collector, deps, streams.err);
  if (controls !== undefined) options.controls = controls;
  if (!args.json) streams.out.write(`${formatHeader()}\n`);
  const measurements = await runTargets(targets, options, deps);
  for (const m of measurements) streams.out.write(`${args.json ? JSON.stringify(m) : formatLine(m)}\n`);
  if (!args.json) streams.err.write(`${formatSummary(measurements)}\n`);
  // Said on the terminal in both forms: a volunteer behind a portal must know the run measured nothing.
  const line = describeRunLine(lineOfRun(measurements));
  if (line !== null) streams.err.write(`line: ${line}\n`);
  return measurements;
}
