// Reading a lab probe run in the catalogue's evidence checks.
import { ownResolverLabel } from '../../contract/evidence.js';
import type { Measurement } from '../../contract/measurement.js';
import type { ProbeRun } from '../lab/lab.js';

/**
 * The lab's honest resolver abroad as the probe names it in the evidence: configured by an address that
 * is not a well-known public resolver's, it is named by its place among the configured resolvers.
 */
export const LAB_HONEST_RESOLVER = ownResolverLabel(0);

/** The measurement of one lab target in a run. */
export function measured(r: ProbeRun, id: string): Measurement {
  const m = r.measurements.find((x) => x.target.id === id);
  if (m === undefined) throw new Error(`no measurement for ${id}; stderr:\n${r.stderr}`);
  return m;
}
