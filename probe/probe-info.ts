// What a measurement says about the probe that made it: its id, its network and the software.
import type { ProbeInfo } from '../contract/measurement.js';
import type { ProbeNetwork } from './config/probe-config.js';
import { version } from './version.js';

/** The probe record of a measurement made by probe `id` on `network`. */
export function probeInfo(id: string, network: ProbeNetwork): ProbeInfo {
  return { id, asn: network.asn, cc: network.cc, network: network.network, software: { name: 'ashyq-probe', version } };
}
