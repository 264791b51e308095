// The engine as another vantage point uses it (the collector's control prober): the shipped measuring settings, the system's network.
import { defaultProbeConfig } from '../config/probe-config.js';
import { systemDeps, type Deps } from '../deps.js';
import { probeInfo } from '../probe-info.js';
import { loadTrust } from '../trust.js';
import { engineOptionsFrom, type EngineOptions } from './options.js';

export type { Deps as EngineDeps } from '../deps.js';

/** Where a vantage point measures from, as its measurements say. */
export interface Vantage {
  id: string;
  asn: number | null;
  cc: string | null;
  network: string | null;
}

/**
 * Engine options for a vantage point: the probe's shipped defaults (step bounds, resolvers, limits),
 * its identity, Node's trust roots. Bulk reads are off: the control judges reachability, not rates.
 */
export function vantageEngineOptions(vantage: Vantage, signal?: AbortSignal): EngineOptions {
  const options = engineOptionsFrom(defaultProbeConfig(), probeInfo(vantage.id, { asn: vantage.asn, cc: vantage.cc, network: vantage.network }), loadTrust(), signal);
  return { ...options, bulk: { ...options.bulk, enabled: false } };
}

/** The system's network and clock, as the probe measures with them. */
export function vantageDeps(): Deps {
  return systemDeps();
}
