#!/usr/bin/env node
// A first look at ashyq on one machine: a collector on its embedded default and a local probe daemon feeding it.
// Run with `npm start` after `npm ci`. Data goes to ./var (collector) and ./var/probe (probe); Ctrl-C stops both.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const collectorData = path.join(root, 'var/collector');
const probeState = path.join(root, 'var/probe');
const children = [];

function start(name, args) {
  // Own process groups: a Ctrl-C reaches this script only, which stops the two in order.
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const prefix = (stream, out) => {
    let rest = '';
    stream.on('data', (chunk) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) out.write(`[${name}] ${line}\n`);
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  child.once('exit', (code, signal) => {
    process.stderr.write(`[${name}] exited (${signal ?? code})\n`);
    if (!stopping) stop(1);
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null))).then(() => process.exit(code));
}
process.once('SIGINT', () => stop(0));
process.once('SIGTERM', () => stop(0));

async function waitForToken() {
  for (let i = 0; i < 600; i++) {
    try {
      return (await readFile(path.join(collectorData, 'enrollment-token'), 'utf8')).trim();
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('the collector did not write its enrollment token');
}

async function waitForHealth(url) {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the collector did not answer ${url}`);
}

start('collector', ['bin/ashyq-collector.js', 'serve']);
const token = process.env.ASHYQ_ENROLLMENT_TOKEN ?? (await waitForToken());
await waitForHealth('http://127.0.0.1:8480/healthz');
await mkdir(probeState, { recursive: true, mode: 0o700 });
const config = path.join(probeState, 'probe.yaml');
await writeFile(
  config,
  [
    '# Written by scripts/first-look.mjs: a local probe feeding the local collector.',
    `state_dir: ${JSON.stringify(probeState)}`,
    'collector:',
    '  url: http://127.0.0.1:8480',
    `  enrollment_token: ${JSON.stringify(token)}`,
    'schedule:',
    '  interval_minutes: 5',
    '  surge_min_interval_minutes: 5',
    '',
  ].join('\n'),
  { mode: 0o600 },
);
start('probe', ['bin/ashyq-probe.cjs', 'daemon', '--config', config]);
process.stdout.write(
  '\nashyq is running: the collector on http://127.0.0.1:8480 and a probe measuring every 5 minutes.\n' +
    `  status:  npx ashyq-probe status --config ${path.relative(root, config)}\n` +
    '  series:  curl "http://127.0.0.1:8480/api/v1/series?target=youtube&step=600"\n' +
    '  metrics: curl http://127.0.0.1:8480/metrics\n' +
    'Ctrl-C stops both.\n\n',
);
