// The deployment files parse, and the collector config they ship is one the collector accepts.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCollectorConfig } from '../collector/config.js';

const read = (p: string) => readFileSync(new URL(`../deploy/${p}`, import.meta.url), 'utf8');

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

  it('is a compose file Docker Compose accepts, with every variable it uses set in the example env file', () => {
    // Docker Compose's own parser (Debian's docker-compose, installed by .ci/run): schema, interpolation
    // and paths. Running it needs a Docker engine and the images from a registry.
    const deploy = fileURLToPath(new URL('../deploy/', import.meta.url));
    const args = ['-f', 'docker-compose.yml', '--env-file', 'collector.env.example', 'config'];
    const run = spawnSync('docker-compose', args, { cwd: deploy, encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
    if (run.error) throw new Error(`docker-compose could not be run (apt-get install docker-compose): ${run.error.message}`);
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
