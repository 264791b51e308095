// The measured side of bench/probe-daemon: the built daemon (dist/) alone in its process, on a loopback network.
// Reads { configFile, intervalMinutes, map, dnsPort } as JSON on stdin; logs like the daemon on stderr; stops on SIGTERM.
// As bin/ashyq-probe.cjs does, before the daemon's modules load (static imports would load them first):
// the libuv pool size (effective only from the environment the process starts with: the unit's) and the V8 flags.
process.env.UV_THREADPOOL_SIZE ??= '32';
const { PROBE_V8_FLAGS, applyProbeV8Flags } = await import('../dist/probe/engine/v8-flags.js');
applyProbeV8Flags();
// What this process runs with, as the daemon sees it (the parent prints it).
const envOf = (k) => `${k}=${process.env[k] ?? '(unset)'}`;
process.stderr.write(`bench: environment ${['NODE_OPTIONS', 'MALLOC_ARENA_MAX', 'GLIBC_TUNABLES', 'UV_THREADPOOL_SIZE'].map(envOf).join(' ')}\n`);
process.stderr.write(`bench: V8 flags ${PROBE_V8_FLAGS.join(' ')}\n`);
const { loadProbeConfig } = await import('../dist/probe/config/probe-config.js');
const { runDaemon } = await import('../dist/probe/daemon/daemon.js');
const { streamLog } = await import('../dist/probe/daemon/log.js');
const { connectSocket } = await import('../dist/probe/deps.js');
const { systemClock } = await import('../dist/common/clock.js');
const { labNetwork, readLab } = await import('./lab-network.mjs');

const lab = await readLab();
const network = labNetwork({ map: lab.map, dnsPort: lab.dnsPort, timeoutMs: 2000 }, connectSocket);

// A volunteer's daemon looks names up with the system resolver: getaddrinfo on libuv's pool, whose threads then
// live as long as the process. The lab answers names itself (nothing may reach a real resolver), so start the pool
// as a first run would: one lookup of localhost per pool thread, all at once (answered from /etc/hosts, no packet).
const dns = await import('node:dns/promises');
await Promise.all(Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE) }, () => dns.lookup('localhost', { family: 4 })));

const config = await loadProbeConfig(lab.configFile);
config.schedule.interval_minutes = lab.intervalMinutes;
// On SIGUSR2 (the parent's --detail): one line of the process's own view of its memory (MB): V8's heap and
// its spaces, code, external memory, native contexts, and the active handles by kind (a leak shows there).
const v8 = await import('node:v8');
process.on('SIGUSR2', () => {
  const mb = (b) => Math.round((b / 1048576) * 10) / 10;
  const mu = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().filter((s) => s.space_size > 0).map((s) => [s.space_name, [mb(s.space_size), mb(s.space_used_size)]]));
  const code = v8.getHeapCodeStatistics();
  const hs = v8.getHeapStatistics();
  const handles = process.getActiveResourcesInfo().reduce((acc, k) => ((acc[k] = (acc[k] ?? 0) + 1), acc), {});
  process.stderr.write(`bench-mem: ${JSON.stringify({ heapTotal: mb(mu.heapTotal), heapUsed: mb(mu.heapUsed), external: mb(mu.external), arrayBuffers: mb(mu.arrayBuffers), malloced: mb(hs.malloced_memory), peakMalloced: mb(hs.peak_malloced_memory), contexts: hs.number_of_native_contexts, detached: hs.number_of_detached_contexts, code: mb(code.code_and_metadata_size), bytecode: mb(code.bytecode_and_metadata_size), spaces, handles })}\n`);
});
const controller = new AbortController();
process.once('SIGTERM', () => controller.abort());
await runDaemon(config, { network, clock: systemClock, log: streamLog(process.stderr, { clock: systemClock }) }, controller.signal);
