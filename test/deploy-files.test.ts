// The deployment files parse, the collector config they ship is one the collector accepts (HTTPS, tls: auto), the image is built from deploy/Dockerfile, placeholders are refused.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { autoTlsFiles, parseCollectorConfig, PLACEHOLDER_PREFIX } from '../collector/config.js';
import { executable } from './services/server-process.js';

const read = (p: string) => readFileSync(new URL(`../deploy/${p}`, import.meta.url), 'utf8');
const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The variables of an env file (KEY=value lines). */
function envFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line))
      .filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

/** The secrets check's shell script as the container runs it (Compose turns each `$$` into `$`). */
function secretsCheckScript(service: ComposeService | undefined): string {
  const script = service?.command?.[0];
  if (script === undefined) throw new Error('the secrets-check service has no command');
  return script.replaceAll('$$', '$');
}

/** Runs the secrets check with /bin/sh here, with only `env` (and PATH) in its environment. */
function runSecretsCheck(script: string, env: Record<string, string>) {
  return spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env } });
}

/** How to run Docker Compose: the command and its leading arguments, or why it cannot be run. */
type Compose = { command: string; prefix: string[]; message: '' } | { command: null; prefix: []; message: string };

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
    expect(config.tls, 'HTTPS out of the box: probes refuse plain http to a non-loopback address').toEqual(autoTlsFiles('/var/lib/ashyq-collector'));
  });

  it('has a compose file with the collector built from deploy/Dockerfile, InfluxDB 2 and Grafana', () => {
    const text = read('docker-compose.yml');
    const compose = parse(text) as { version?: unknown; services: Record<string, ComposeService> };
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['collector', 'influxdb', 'grafana', 'secrets-check']));
    expect(compose.services['influxdb']?.image).toMatch(/^influxdb:2/);
    expect(compose, 'no `version:` key (Compose v2 warns it is obsolete)').not.toHaveProperty('version');
    const collector = compose.services['collector']!;
    expect(collector.build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
    expect(collector.image, 'built, not a stock node image running npm ci at every start').toBeUndefined();
    expect(collector.command).toBeUndefined();
    expect(text).not.toMatch(/npm (ci|install)/);
    expect(existsSync(path.join(ROOT, 'deploy/Dockerfile'))).toBe(true);
    // No service starts before the placeholders are checked (InfluxDB and Grafana set themselves up once, with what they get).
    for (const name of ['collector', 'influxdb', 'grafana']) {
      expect(compose.services[name]?.depends_on?.['secrets-check'], name).toEqual({ condition: 'service_completed_successfully' });
    }
    // Every `$` the shell should see is written `$$`: a lone `$` must open a ${VAR…} Compose fills in.
    for (const lone of text.replaceAll('$$', '').matchAll(/\$(?!\{[A-Z_]+(:[-?][^}]*)?\})/g)) throw new Error(`a lone $ at ${lone.index}: ${text.slice(lone.index, lone.index + 20)}`);
  });

  it('builds a multi-stage image: node:20-bookworm builds, a slim non-root runtime serves HTTPS on 8480 with the data in a volume', () => {
    const dockerfile = read('Dockerfile');
    const lines = dockerfile.split('\n');
    expect(lines[0]).toMatch(/^# /);
    const from = lines.filter((l) => l.startsWith('FROM '));
    expect(from).toEqual(['FROM node:20-bookworm AS build', 'FROM node:20-bookworm-slim']);
    const runtime = dockerfile.slice(dockerfile.indexOf('FROM node:20-bookworm-slim'));
    expect(runtime).toMatch(/^COPY --from=build \/src\/node_modules node_modules$/m);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toContain('VOLUME ["/var/lib/ashyq-collector"]');
    expect(runtime).toMatch(/^EXPOSE 8480$/m);
    expect(lines.filter((l) => l.startsWith('CMD '))).toEqual(['CMD ["node", "bin/ashyq-collector.js", "serve", "--config", "/etc/ashyq/collector.yaml"]']);
    expect(dockerfile).toMatch(/npm ci .*&& npm rebuild better-sqlite3/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    // Everything copied from the build context exists and is not left out by .dockerignore.
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const sources = lines.filter((l) => l.startsWith('COPY ') && !l.startsWith('COPY --from')).flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'collector', 'probe', 'bin/ashyq-collector.js', 'collector/page', 'targets.yaml']));
    for (const source of sources) {
      expect(existsSync(path.join(ROOT, source)), source).toBe(true);
      for (const pattern of ignored) expect(source === pattern || source.startsWith(`${pattern}/`), `${source} is ignored by ${pattern}`).toBe(false);
    }
    expect(ignored).toEqual(expect.arrayContaining(['.git', '**/node_modules', 'dist', 'deploy/collector.env']));
  });

  it("ships an example env file of placeholders only, which the collector and the compose file's secrets check both refuse", () => {
    const example = envFile(read('collector.env.example'));
    expect(Object.keys(example).sort()).toEqual(['ASHYQ_ENROLLMENT_TOKEN', 'GRAFANA_PASSWORD', 'INFLUX_PASSWORD', 'INFLUX_TOKEN']);
    for (const [name, value] of Object.entries(example)) expect(value.startsWith(PLACEHOLDER_PREFIX), name).toBe(true);
    const collectorEnv = { ASHYQ_ENROLLMENT_TOKEN: example['ASHYQ_ENROLLMENT_TOKEN']!, ASHYQ_INFLUX_URL: 'http://influxdb:8086', ASHYQ_INFLUX_TOKEN: 'a-real-influx-token-0123456789', ASHYQ_INFLUX_BUCKET: 'ashyq' };
    expect(() => parseCollectorConfig(read('collector.yaml'), 'deploy/collector.yaml', '/', collectorEnv)).toThrow(/ASHYQ_ENROLLMENT_TOKEN: still the placeholder of deploy\/collector\.env\.example/);
    expect(() => parseCollectorConfig(read('collector.yaml'), 'deploy/collector.yaml', '/', { ...collectorEnv, ASHYQ_ENROLLMENT_TOKEN: 'a-real-token-0123456789', ASHYQ_INFLUX_TOKEN: example['INFLUX_TOKEN']! })).toThrow(
      /ASHYQ_INFLUX_TOKEN: still the placeholder .*set INFLUX_TOKEN \(passed as ASHYQ_INFLUX_TOKEN\) in deploy\/collector\.env/,
    );

    const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> };
    const script = secretsCheckScript(compose.services['secrets-check']);
    const placeholders = runSecretsCheck(script, example);
    expect(placeholders.status).toBe(1);
    expect(placeholders.stdout.trim().split('\n')).toEqual(
      ['ASHYQ_ENROLLMENT_TOKEN', 'GRAFANA_PASSWORD', 'INFLUX_PASSWORD', 'INFLUX_TOKEN'].map((v) => `ashyq: ${v} in deploy/collector.env is still the placeholder of deploy/collector.env.example: replace it`),
    );
    const real = { ASHYQ_ENROLLMENT_TOKEN: '', INFLUX_TOKEN: 'tK9vQ2xZ7mW4pL8sR1nB6yH3', INFLUX_PASSWORD: 'a-real-password', GRAFANA_PASSWORD: 'another-real-one' };
    const ok = runSecretsCheck(script, real);
    expect([ok.status, ok.stdout]).toEqual([0, 'ashyq: deploy/collector.env has no placeholder left\n']);
    const one = runSecretsCheck(script, { ...real, GRAFANA_PASSWORD: example['GRAFANA_PASSWORD']! });
    expect([one.status, one.stdout]).toEqual([1, 'ashyq: GRAFANA_PASSWORD in deploy/collector.env is still the placeholder of deploy/collector.env.example: replace it\n']);
    const short = runSecretsCheck(script, { ...real, INFLUX_PASSWORD: 'short' });
    expect([short.status, short.stdout]).toEqual([1, 'ashyq: INFLUX_PASSWORD in deploy/collector.env needs at least 8 characters (InfluxDB refuses a shorter one)\n']);
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
    const config = parse(run.stdout) as { services: Record<string, ComposeService> };
    const env = envFile(read('collector.env.example'));
    expect(config.services['collector']?.environment).toMatchObject({
      ASHYQ_ENROLLMENT_TOKEN: env['ASHYQ_ENROLLMENT_TOKEN'], ASHYQ_INFLUX_TOKEN: env['INFLUX_TOKEN'], ASHYQ_INFLUX_URL: 'http://influxdb:8086',
    });
    expect(config.services['influxdb']?.environment?.['DOCKER_INFLUXDB_INIT_ADMIN_TOKEN']).toBe(env['INFLUX_TOKEN']);
    expect(config.services['secrets-check']?.environment).toEqual({
      ASHYQ_ENROLLMENT_TOKEN: env['ASHYQ_ENROLLMENT_TOKEN'], INFLUX_TOKEN: env['INFLUX_TOKEN'], INFLUX_PASSWORD: env['INFLUX_PASSWORD'], GRAFANA_PASSWORD: env['GRAFANA_PASSWORD'],
    });
    // The script Compose hands the container is the one tested above.
    expect(secretsCheckScript(config.services['secrets-check'])).toBe(secretsCheckScript((parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> }).services['secrets-check']).replace(/\s*\n\s*/g, ' ').trim());
    // The image is built from the checkout's deploy/Dockerfile.
    const build = config.services['collector']?.build;
    expect(build?.context).toBe(ROOT.replace(/\/$/, ''));
    expect(existsSync(path.join(build?.context ?? '', build?.dockerfile ?? ''))).toBe(true);
    // Every file or directory the services bind from the checkout exists.
    const binds = Object.values(config.services).flatMap((s) => s.volumes ?? []).filter((v) => v.startsWith('/'));
    expect(binds.length).toBeGreaterThanOrEqual(3);
    for (const b of binds) expect(existsSync(b.split(':')[0] ?? ''), b).toBe(true);

    // A secret left out of the env file stops Compose itself, naming it and the file to edit.
    const partial = path.join(os.tmpdir(), `ashyq-collector-env-${process.pid}`);
    writeFileSync(partial, Object.entries(env).filter(([k]) => k !== 'INFLUX_PASSWORD').map(([k, v]) => `${k}=${v}\n`).join(''));
    try {
      const missing = spawnSync(compose.command, [...compose.prefix, '-f', 'docker-compose.yml', '--env-file', partial, 'config'], { cwd: deploy, encoding: 'utf8', env: composeEnv() });
      expect(missing.status).not.toBe(0);
      expect(missing.stderr).toContain('set INFLUX_PASSWORD in deploy/collector.env (see deploy/collector.env.example)');
    } finally {
      rmSync(partial, { force: true });
    }
  });
});
