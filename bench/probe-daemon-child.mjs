// The measured side of bench/probe-daemon: the built daemon (dist/) alone in its process, on a loopback network.
// Reads { configFile, intervalMinutes, map, dnsPort } as JSON on stdin; logs like the daemon on stderr; stops on SIGTERM.
// As bin/ashyq-probe.js does, before the daemon's modules load (static imports would load them first):
// the libuv pool size and the probe's V8 flags.
process.env.UV_THREADPOOL_SIZE ??= '32';
const { PROBE_V8_FLAGS, applyProbeV8Flags } = await import('../dist/probe/engine/v8-flags.js');
applyProbeV8Flags();
process.stderr.write(`bench: V8 flags ${PROBE_V8_FLAGS.join(' ')}\n`);
const { loadProbeConfig } = await import('../dist/probe/config/probe-config.js');
const { runDaemon } = await import('../dist/probe/daemon/daemon.js');
const { streamLog } = await import('../dist/probe/daemon/log.js');
const { connectSocket, systemClock } = await import('../dist/probe/deps.js');
const { labNetwork, readLab } = await import('./lab-network.mjs');

const lab = await readLab();
const network = labNetwork({ map: lab.map, dnsPort: lab.dnsPort, timeoutMs: 2000 }, connectSocket);

const config = await loadProbeConfig(lab.configFile);
config.schedule.interval_minutes = lab.intervalMinutes;
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
await runDaemon(config, { network, clock: systemClock, log: streamLog(process.stderr, { clock: systemClock }) }, controller.signal);
