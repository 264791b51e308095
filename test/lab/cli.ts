// `npm run lab -- <command>`: bring the censored lab up, switch scenarios, run the probe in it by hand, tear it down.
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, labSupport } from './lab.js';
import { LAB_SCENARIOS, labExpectations, labScenario, type LabScenario } from '../catalogue/index.js';
import { spawn } from 'node:child_process';
import { labEnv, run } from './shell.js';
import { NS } from './topology.js';

const USAGE = `usage: npm run lab -- <command>

  up [SCENARIO]     build the lab (removing an old one), apply SCENARIO (default: clean),
                    run the probe once and leave the lab up
  apply SCENARIO    switch the running lab's censor to SCENARIO
  probe [--json]    run ashyq-probe once inside the client host
  daemon [MINUTES]  run ashyq-probe daemon inside the client host (a run every MINUTES, default 1,
                    no jitter), uploading to the lab's collector; Ctrl-C stops it. Switch the
                    censor from another terminal with apply and watch the verdicts change
  down              stop every lab process and remove the namespaces
  list              the scenarios

Needs root and: iproute2 iptables dnsmasq-base nginx-light sslsplit openssl (Debian packages).
`;

/** The running lab's files: one lab per machine, so a fixed place under the temp directory. */
const LAB_DIR = join(tmpdir(), 'ashyq-lab');

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

async function running(): Promise<boolean> {
  const r = await run('ip', ['netns', 'list'], { allowFailure: true });
  return r.stdout.split('\n').some((l) => l.split(/\s+/)[0] === NS.client);
}

function describe(s: LabScenario): string {
  const exp = Object.entries(labExpectations(s))
    .filter(([, e]) => e.verdict !== 'ok')
    .map(([id, e]) => `${id}: ${e.verdict}`);
  return `${s.name.padEnd(17)} ${s.summary}\n${' '.repeat(18)}mechanism: ${s.mechanism}\n${' '.repeat(18)}expected: ${exp.length > 0 ? exp.join(', ') : 'every target ok'}`;
}

function pick(name: string | undefined): LabScenario {
  const s = labScenario(name ?? 'clean');
  if (s === undefined) {
    process.stderr.write(`lab: unknown scenario "${name}"; one of: ${LAB_SCENARIOS.map((x) => x.name).join(', ')}\n`);
    process.exit(2);
  }
  return s;
}

async function probe(lab: Lab, json: boolean): Promise<number> {
  if (json) {
    const r = await lab.probe();
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    return r.code;
  }
  const r = await lab.probeText();
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

async function handHints(lab: Lab): Promise<string> {
  const rows: Array<[string, string]> = [
    ['npm run lab -- probe', 'run the probe again (--json for the records)'],
    ['npm run lab -- apply <scenario>', 'switch the censor'],
    ['npm run lab -- daemon', 'the probe daemon in the client, uploading to the lab collector (Ctrl-C stops it)'],
    [`ip netns exec ${NS.client} node bin/ashyq-probe.cjs run --once --config ${join(LAB_DIR, 'probe.yaml')}`, 'the built probe (npm run build first)'],
    [`ip netns exec ${NS.client} bash`, "a shell on the volunteer's machine"],
    [`ip netns exec ${NS.censor} iptables-save`, 'what the censor does now'],
    ['npm run lab -- down', 'remove the lab'],
  ];
  return `
The collector runs in the internet host: ${lab.collectorUrl} (lab CA ${lab.caFile},
enrollment token ${await lab.enrollmentToken()}).

The lab stays up. By hand:
${rows.map(([cmd, what]) => `  ${cmd}\n      ${what}`).join('\n')}
Logs and configs: ${LAB_DIR}
`;
}

const LAB_SOURCE = fileURLToPath(new URL('./', import.meta.url));

/** Run `ip ARGS` with this terminal; Ctrl-C reaches the child (which stops cleanly), its exit status is ours. */
function foreground(args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('ip', args, { stdio: 'inherit', env: labEnv() });
    process.on('SIGINT', () => undefined);
    child.once('error', (err) => {
      process.stderr.write(`lab: ${err.message}\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, arg] = argv;
  const lab = new Lab(LAB_DIR);
  switch (command) {
    case 'list':
      for (const s of LAB_SCENARIOS) out(describe(s));
      return 0;
    case 'up': {
      const s = pick(arg);
      const support = await labSupport();
      if (!support.ok) {
        process.stderr.write(`lab: cannot build the lab here: ${support.why}\n`);
        return 1;
      }
      await lab.down();
      await rm(LAB_DIR, { recursive: true, force: true });
      out('lab: building client, censor, internet and tap hosts ...');
      try {
        await lab.up();
        await s.apply(lab.censor);
      } catch (err) {
        await lab.down();
        throw err;
      }
      out(`lab: up, scenario ${describe(s)}\n`);
      const code = await probe(lab, false);
      out(await handHints(lab));
      return code;
    }
    case 'apply': {
      const s = pick(arg);
      if (!(await running())) {
        process.stderr.write('lab: no lab is up (npm run lab -- up)\n');
        return 1;
      }
      await lab.clearCensor();
      await s.apply(lab.censor);
      out(`lab: scenario ${describe(s)}`);
      return 0;
    }
    case 'probe':
      if (!(await running())) {
        process.stderr.write('lab: no lab is up (npm run lab -- up)\n');
        return 1;
      }
      return probe(lab, arg === '--json');
    case 'daemon': {
      if (!(await running())) {
        process.stderr.write('lab: no lab is up (npm run lab -- up)\n');
        return 1;
      }
      const minutes = arg === undefined ? 1 : Number(arg);
      if (!Number.isInteger(minutes) || minutes < 1) {
        process.stderr.write(`lab: daemon: MINUTES must be a whole number of minutes ≥ 1, not "${arg}"\n`);
        return 2;
      }
      const config = await lab.writeDaemonConfig('probe-daemon-by-hand', minutes);
      out(`lab: ashyq-probe daemon in ${NS.client}, config ${config}, state in ${lab.daemonStateDir}; Ctrl-C stops it`);
      return foreground(['netns', 'exec', NS.client, process.execPath, '--import', 'tsx', join(LAB_SOURCE, 'ashyq-probe.ts'), 'daemon', '--config', config]);
    }
    case 'down':
      await lab.down();
      out('lab: down');
      return 0;
    default:
      process.stderr.write(USAGE);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
