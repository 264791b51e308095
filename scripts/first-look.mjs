#!/usr/bin/env node
// A first look at ashyq on one machine: a collector on its embedded default and a local probe daemon feeding it.
// Run with `npm start` after `npm ci` (ASHYQ_PORT=N for another port than 8480). Data goes to ./var/collector and
// ./var/probe; Ctrl-C stops both. A port already taken, or a collector that does not start, is said and exits 1.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const collectorData = path.join(root, 'var/collector');
const probeState = path.join(root, 'var/probe');
const HOST = '127.0.0.1';
const DEFAULT_PORT = 8480;
const children = [];
/** Until both are started a child that exits is the start-up's to report; after that it stops the other. */
let ready = false;

function fail(message, code = 1) {
  // After a Ctrl-C the children's exits are no news.
  if (!stopping) process.stderr.write(`npm start: ${message}\n`);
  stop(code);
}

function start(name, args, onLine = () => {}) {
  // Own process groups: a Ctrl-C reaches this script only, which stops the two in order.
  // Readable logs (a line per run and per request), though the children write to pipes, not a terminal.
  const env = { ...process.env, ASHYQ_LOG: process.env.ASHYQ_LOG ?? 'text' };
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const prefix = (stream, out) => {
    let rest = '';
    stream.on('data', (chunk) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        out.write(`[${name}] ${line}\n`);
        onLine(line);
      }
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  child.once('exit', (code, signal) => {
    process.stderr.write(`[${name}] exited (${signal ?? code})\n`);
    if (!stopping && ready) stop(1);
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null))).then(() => process.exit(code));
}
process.once('SIGINT', () => stop(0));
process.once('SIGTERM', () => stop(0));

/** The port to use: $ASHYQ_PORT, else 8480 (the collector's embedded default). */
function chosenPort() {
  const text = process.env.ASHYQ_PORT;
  if (text === undefined || text === '') return DEFAULT_PORT;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) return undefined;
  return port;
}

/** Whether something already listens on host:port (this script binds it for a moment to find out). */
function portTaken(host, port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    // Any other failure (a privileged port, say) is the collector's to explain.
    server.once('error', (err) => resolve(err.code === 'EADDRINUSE'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** Whether what listens on base answers /healthz like an ashyq collector (within 2 s). */
async function answersLikeCollector(base) {
  // A timer of its own (AbortSignal.timeout's does not keep the process alive while the answer is awaited).
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 2000);
  try {
    const res = await fetch(`${base}/healthz`, { signal: abort.signal });
    return res.ok && (await res.json()).status === 'ok';
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the collector; resolves to the address from its own "listening on" line, rejects if it exits first. */
function startCollector(args) {
  return new Promise((resolve, reject) => {
    const slow = setTimeout(() => process.stderr.write('npm start: waiting for the collector to listen (indexing its archive?)\n'), 15_000);
    const child = start('collector', args, (line) => {
      const m = /^ashyq-collector: listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(slow);
        resolve(m[1]);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(slow);
      reject(new Error(`the collector did not start (it exited with ${signal ?? code}; its lines above say why)`));
    });
  });
}

async function healthy(url) {
  for (let i = 0; i < 50; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the collector does not answer ${url}`);
}

async function main() {
  const port = chosenPort();
  if (port === undefined) return fail(`ASHYQ_PORT must be a port number 1..65535, got ${JSON.stringify(process.env.ASHYQ_PORT)}`, 2);
  const base = `http://${HOST}:${port}`;
  if (await portTaken(HOST, port)) {
    const who = (await answersLikeCollector(base)) ? 'an ashyq collector answers there: another `npm start`?' : 'another ashyq collector?';
    const other = port === DEFAULT_PORT ? DEFAULT_PORT + 1 : port + 1;
    return fail(
      `port ${port} on ${HOST} is taken by another process (${who}); nothing was started.\n` +
        `  Stop that process (Ctrl-C where it runs; \`ss -ltnp 'sport = :${port}'\` names it) and run npm start again,\n` +
        `  or use another port: ASHYQ_PORT=${other} npm start`,
    );
  }

  const collectorArgs = ['bin/ashyq-collector.js', 'serve', '--log', 'text'];
  if (port !== DEFAULT_PORT) {
    // The embedded default on another port.
    await mkdir(collectorData, { recursive: true });
    const file = path.join(root, 'var/first-look-collector.yaml');
    await writeFile(file, `# Written by scripts/first-look.mjs (ASHYQ_PORT): the embedded default on port ${port}.\ndata_dir: ${JSON.stringify(collectorData)}\nlisten: { host: ${HOST}, port: ${port} }\n`);
    collectorArgs.push('--config', file);
  }
  let address;
  try {
    // Its own line, not a health check that another process on the port could answer.
    address = await startCollector(collectorArgs);
    await healthy(`${address}/healthz`);
  } catch (err) {
    return fail(err.message);
  }
  const token = process.env.ASHYQ_ENROLLMENT_TOKEN ?? (await readFile(path.join(collectorData, 'enrollment-token'), 'utf8')).trim();
  await mkdir(probeState, { recursive: true, mode: 0o700 });
  const config = path.join(probeState, 'probe.yaml');
  await writeFile(
    config,
    [
      '# Written by scripts/first-look.mjs: a local probe feeding the local collector.',
      `state_dir: ${JSON.stringify(probeState)}`,
      'collector:',
      `  url: ${address}`,
      `  enrollment_token: ${JSON.stringify(token)}`,
      'schedule:',
      '  interval_minutes: 5',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  start('probe', ['bin/ashyq-probe.cjs', 'daemon', '--config', config]);
  ready = true;
  process.stdout.write(
    `\nashyq is running: the collector on ${address} and a probe measuring every 5 minutes.\n` +
      `  status:  npx ashyq-probe status --config ${path.relative(root, config)}\n` +
      `  series:  curl "${address}/api/v1/series?target=youtube&step=600"\n` +
      `  metrics: curl ${address}/metrics\n` +
      'Ctrl-C stops both.\n\n',
  );
}

await main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
