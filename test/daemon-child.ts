// Test entry: the daemon as a real process (same code path as `ashyq-probe daemon`), on a loopback network that dials nothing else.
// Usage: node --import tsx test/daemon-child.ts SPEC.json   (SPEC: see ChildSpec in daemon-lab.ts)
import { readFileSync } from 'node:fs';
import { loadProbeConfig } from '../probe/config/probe-config.js';
import { serveDaemon } from '../probe/cli/daemon.js';
import { systemClock } from '../common/clock.js';
import { fakeSystemLookup } from './fakes/dns-server.js';
import { loopbackNetwork } from './fakes/loopback-network.js';
import type { ChildSpec } from './daemon-lab.js';

const specFile = process.argv[2];
if (specFile === undefined) throw new Error('usage: daemon-child.ts SPEC.json');
const spec = JSON.parse(readFileSync(specFile, 'utf8')) as ChildSpec;

const config = await loadProbeConfig(spec.configFile);
Object.assign(config.schedule, spec.schedule ?? {});
if (spec.spoolCapBytes !== undefined) config.spool.cap_mb = spec.spoolCapBytes / (1024 * 1024);

// Every TCP dial goes to a loopback listener named in the map; anything else fails without a packet sent.
const network = loopbackNetwork(spec.map, fakeSystemLookup({ address: '127.0.0.1', port: spec.dnsPort }, { timeoutMs: 1000 }), {
  unmapped: 'EHOSTUNREACH',
});

process.exitCode = await serveDaemon(config, { err: process.stderr }, {
  network,
  clock: systemClock,
  ...(spec.stopGraceMs !== undefined ? { stopGraceMs: spec.stopGraceMs } : {}),
});
