// Reading a lab probe run in the catalogue's evidence checks.
import type { Measurement } from '../../contract/measurement.js';
import type { ProbeRun } from '../lab/lab.js';
import { HONEST_RESOLVER } from '../lab/topology.js';

/** The lab's honest resolver abroad as the probe names it in the evidence. */
export const LAB_HONEST_RESOLVER = `udp:${HONEST_RESOLVER}:53`;

/** The measurement of one lab target in a run. */
export function measured(r: ProbeRun, id: string): Measurement {
  const m = r.measurements.find((x) => x.target.id === id);
  if (m === undefined) throw new Error(`no measurement for ${id}; stderr:\n${r.stderr}`);
  return m;
}
