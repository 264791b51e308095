// The measured side of bench/probe-cycle: runs the built engine alone in its own process and reports its cost.
// Reads its lab (address map, resolver ports, lab root, targets) as JSON on stdin; prints one JSON line.
// Usage: node bench/probe-cycle-child.mjs [--no-v8-flags] [--cli]
import { applyProbeV8Flags, PROBE_V8_FLAGS } from '../dist/probe/engine/v8-flags.js';

// The probe's own V8 settings, applied first, the way bin/ashyq-probe.cjs starts every volunteer's run
// (--no-v8-flags leaves V8's defaults, to see what the settings buy).
const v8Flags = process.argv.includes('--no-v8-flags') ? [] : PROBE_V8_FLAGS;
if (v8Flags.length > 0) applyProbeV8Flags();
// --cli: also load what bin/ashyq-probe.cjs loads before a run (the command line, daemon and uploader code).
const withCli = process.argv.includes('--cli');
if (withCli) await import('../dist/probe/cli/main.js');
const { runTargets } = await import('../dist/probe/engine/run.js');
const { engineOptionsFrom } = await import('../dist/probe/engine/options.js');
const { defaultProbeConfig } = await import('../dist/probe/config/probe-config.js');
const { loadTrust } = await import('../dist/probe/trust.js');
const { connectSocket } = await import('../dist/probe/deps.js');
const { systemClock } = await import('../dist/common/clock.js');
const { labNetwork, readLab } = await import('./lab-network.mjs');

const lab = await readLab();
const network = labNetwork({ map: lab.map, dnsPort: lab.systemDnsPort, timeoutMs: lab.timeoutMs }, connectSocket);

const config = defaultProbeConfig();
const probe = { id: 'bench', asn: null, cc: null, network: null, software: { name: 'ashyq-probe', version: 'bench' } };
const options = {
  ...engineOptionsFrom(config, probe, loadTrust({ extraCa: [lab.root], env: {} })),
  resolvers: [{ kind: 'system' }, { kind: 'udp', address: '127.0.0.1', port: lab.publicDnsPort }],
  controlDoh: null,
};

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const measurements = await runTargets(lab.targets, options, { network, clock: systemClock });
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const verdicts = {};
for (const m of measurements) verdicts[m.verdict.verdict] = (verdicts[m.verdict.verdict] ?? 0) + 1;
process.stdout.write(
  `${JSON.stringify({
    wallMs,
    timeoutMs: options.timeoutMs,
    concurrency: options.concurrency,
    v8Flags,
    withCli,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    cpuMs: (cpu.user + cpu.system) / 1000,
    verdicts,
  })}\n`,
);
