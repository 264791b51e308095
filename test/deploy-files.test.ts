// The deployment files parse, and the collector config they ship is one the collector accepts.
import { readFileSync } from 'node:fs';
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

  it('provisions a dashboard whose queries are InfluxQL over the reachability series', () => {
    const dash = JSON.parse(read('grafana/dashboards/reachability.json')) as { panels: Array<{ targets: Array<{ query: string }> }> };
    for (const p of dash.panels) for (const t of p.targets) expect(t.query).toMatch(/^SELECT .* FROM "reachability" WHERE/);
  });
});
