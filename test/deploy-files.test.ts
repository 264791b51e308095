// The deployment files parse, and the collector config they ship is one the collector accepts.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCollectorConfig } from '../collector/config.js';

const read = (p: string) => readFileSync(new URL(`../deploy/${p}`, import.meta.url), 'utf8');

/** How to run Docker Compose: the command and its leading arguments, or why it cannot be run. */
type Compose = { command: string; prefix: string[]; message: '' } | { command: null; prefix: []; message: string };

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Docker Compose: $ASHYQ_DOCKER_COMPOSE when set, else `docker-compose` (Debian's package) in /usr/bin or
 * on the PATH, else the `docker compose` plugin. Missing, the test that needs it skips with a message,
 * except under CI (CI set), where it fails with it, as the database tests do (test/services/server-process.ts).
 */
function findCompose(): Compose {
  const dirs = ['/usr/bin', ...(process.env['PATH'] ?? '').split(path.delimiter).filter((d) => d !== '')];
  const override = process.env['ASHYQ_DOCKER_COMPOSE'];
  if (override !== undefined && override !== '') {
    if (executable(override)) return { command: override, prefix: [], message: '' };
    return { command: null, prefix: [], message: `ASHYQ_DOCKER_COMPOSE=${override} is not an executable file` };
  }
  const v1 = dirs.map((d) => path.join(d, 'docker-compose')).find(executable);
  if (v1 !== undefined) return { command: v1, prefix: [], message: '' };
  const docker = dirs.map((d) => path.join(d, 'docker')).find(executable);
  if (docker !== undefined) {
    const plugin = spawnSync(docker, ['compose', 'version'], { encoding: 'utf8', env: composeEnv() });
    if (plugin.status === 0) return { command: docker, prefix: ['compose'], message: '' };
  }
  return {
    command: null,
    prefix: [],
    message:
      `neither docker-compose nor the \`docker compose\` plugin found (looked in /usr/bin and the PATH${docker !== undefined ? `; ${docker} has no compose command` : ''}); ` +
      'install it with `apt-get install -y docker-compose` or set ASHYQ_DOCKER_COMPOSE to the binary',
  };
}

/** The environment Docker Compose runs in: nothing from the caller's but where programs and its config are. */
function composeEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  if (process.env['HOME'] !== undefined) env['HOME'] = process.env['HOME'];
  return env;
}

const compose = findCompose();
const inCi = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false';
if (compose.command === null && !inCi) console.warn(`SKIPPING the test that needs a real docker-compose: ${compose.message}`);

describe('deploy/', () => {
  it('ships a collector config that validates, with InfluxDB from the compose environment', () => {
    const env = { ASHYQ_INFLUX_URL: 'http://influxdb:8086', ASHYQ_INFLUX_TOKEN: 't', ASHYQ_INFLUX_ORG: 'ashyq', ASHYQ_INFLUX_BUCKET: 'ashyq' };
    const config = parseCollectorConfig(read('collector.yaml'), 'deploy/collector.yaml', '/', env);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8480 });
    expect(config.influx).toMatchObject({ url: 'http://influxdb:8086', org: 'ashyq', bucket: 'ashyq' });
  });

  it('has a compose file with the collector, InfluxDB 2 and Grafana', () => {
    const compose = parse(read('docker-compose.yml')) as { services: Record<string, { image: string }> };
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['collector', 'influxdb', 'grafana']));
    expect(compose.services['influxdb']?.image).toMatch(/^influxdb:2/);
  });

  it('provisions dashboards whose queries are InfluxQL over the collector\'s measurements', () => {
    for (const name of ['overview', 'service', 'fleet']) {
      const dash = JSON.parse(read(`grafana/dashboards/${name}.json`)) as { panels: Array<{ targets: Array<{ query: string }> }> };
      for (const p of dash.panels) {
        for (const t of p.targets) expect(t.query).toMatch(/^SELECT .* FROM "(reachability|blocking_event|spool_overflow|control_run)" WHERE/);
      }
    }
  });

  it('is a compose file Docker Compose accepts, with every variable it uses set in the example env file', ({ skip }) => {
    // Docker Compose's own parser (Debian's docker-compose, installed by .ci/run): schema, interpolation
    // and paths. Running it needs a Docker engine and the images from a registry.
    if (compose.command === null) {
      if (inCi) throw new Error(`docker-compose is needed under CI: ${compose.message}`);
      return skip(compose.message);
    }
    const deploy = fileURLToPath(new URL('../deploy/', import.meta.url));
    const args = [...compose.prefix, '-f', 'docker-compose.yml', '--env-file', 'collector.env.example', 'config'];
    const run = spawnSync(compose.command, args, { cwd: deploy, encoding: 'utf8', env: composeEnv() });
    if (run.error) throw new Error(`${compose.command} ${args.join(' ')} could not be run: ${run.error.message}`);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const config = parse(run.stdout) as {
      services: Record<string, { environment?: Record<string, string>; volumes?: string[] }>;
    };
    const env = Object.fromEntries(
      read('collector.env.example')
        .split('\n')
        .map((line) => /^([A-Z_]+)=(.*)$/.exec(line))
        .filter((m) => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    );
    expect(config.services['collector']?.environment).toMatchObject({
      ASHYQ_ENROLLMENT_TOKEN: env['ASHYQ_ENROLLMENT_TOKEN'], ASHYQ_INFLUX_TOKEN: env['INFLUX_TOKEN'], ASHYQ_INFLUX_URL: 'http://influxdb:8086',
    });
    expect(config.services['influxdb']?.environment?.['DOCKER_INFLUXDB_INIT_ADMIN_TOKEN']).toBe(env['INFLUX_TOKEN']);
    // Every file or directory the services bind from the checkout exists.
    const binds = Object.values(config.services).flatMap((s) => s.volumes ?? []).filter((v) => v.startsWith('/'));
    expect(binds.length).toBeGreaterThanOrEqual(4);
    for (const b of binds) expect(existsSync(b.split(':')[0] ?? ''), b).toBe(true);
  });
});
