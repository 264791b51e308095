// The collector config: embedded defaults, a YAML file validated with file:line, environment overrides.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { autoTlsFiles, DEFAULT_CONTROL, DEFAULT_EVENTS, DEFAULT_LIMITS, defaultCollectorConfig, loadCollectorConfig, parseCollectorConfig, PLACEHOLDER_PREFIX } from '../collector/config.js';
import { ConfigError, ConfigErrors } from '../common/errors.js';
import { FIXTURES } from './fixtures/collector/helpers.js';

/** The error parsing `text` as c.yaml gives, or 'no error'. */
function one(text: string): string {
  try {
    parseCollectorConfig(text, 'c.yaml', '/base', {});
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

describe('collector config', () => {
  it('has an embedded default that needs no other service', () => {
    const c = defaultCollectorConfig({});
    expect(c).toEqual({
      data_dir: path.resolve('var/collector'),
      listen: { host: '127.0.0.1', port: 8480 },
      tls: null,
      trust_proxy: false,
      enrollment_tokens: [],
      targets_file: null,
      limits: DEFAULT_LIMITS,
      influx: null,
      ip_db: null,
      events: DEFAULT_EVENTS,
      control: DEFAULT_CONTROL,
    });
    expect(c.control?.enabled, 'the control vantage is off unless asked for: it is for a collector outside the censored country').toBe(false);
  });

  it('takes the enrollment token and InfluxDB from the environment', () => {
    const c = defaultCollectorConfig({
      ASHYQ_ENROLLMENT_TOKEN: 'from-the-environment-123',
      ASHYQ_INFLUX_URL: 'http://127.0.0.1:8428',
      ASHYQ_INFLUX_BUCKET: 'ashyq',
    });
    expect(c.enrollment_tokens).toEqual(['from-the-environment-123']);
    expect(c.influx).toEqual({ url: 'http://127.0.0.1:8428', token: '', org: '', bucket: 'ashyq' });
    expect(() => defaultCollectorConfig({ ASHYQ_INFLUX_TOKEN: 't' })).toThrow(ConfigError);
  });

  it('loads every key of a file, resolving paths against the file, env overriding influx', async () => {
    const file = path.join(FIXTURES, 'collector.yaml');
    const c = await loadCollectorConfig(file, { ASHYQ_INFLUX_TOKEN: 'env-token' });
    expect(c).toEqual({
      data_dir: path.resolve(FIXTURES, '../../../var/test-collector'),
      listen: { host: '0.0.0.0', port: 9443 },
      tls: { cert: path.join(FIXTURES, 'tls/cert.pem'), key: path.join(FIXTURES, 'tls/key.pem') },
      trust_proxy: true,
      enrollment_tokens: ['a-long-enrollment-token-1'],
      targets_file: path.join(FIXTURES, 'targets.yaml'),
      limits: {
        max_body_bytes: 1_048_576,
        max_json_bytes: 8_388_608,
        max_batch_items: 200,
        max_age_s: 86_400,
        max_future_s: 120,
        signature_skew_s: 60,
        rate_per_probe: { per_minute: 10, burst: 5 },
      },
      influx: { url: 'http://127.0.0.1:8086', token: 'env-token', org: 'ashyq', bucket: 'reachability' },
      ip_db: { asn: [path.join(FIXTURES, 'asn-sample.csv')], country: [path.join(FIXTURES, 'country-sample.csv')] },
      events: {
        interval_minutes: 30,
        min_probes: 3,
        min_probe_history_hours: 12,
        surge_every_minutes: 15,
        webhook: { url: 'https://hooks.example.org/ashyq', secret: 'a-webhook-secret-of-32-characters' },
      },
      control: { enabled: true, interval_minutes: 30, window_minutes: 60, asn: 24940, cc: 'DE', enrollment_tokens: ['a-control-probe-token-0123'] },
    });
  });

  it('reports every problem with file:line and key', async () => {
    const file = path.join(FIXTURES, 'collector-invalid.yaml');
    const err = await loadCollectorConfig(file, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigErrors);
    const messages = (err as ConfigErrors).errors.map((e) => e.message);
    expect(messages).toEqual([
      `${file}:5: listen.port: expected an integer from 0 to 65535`,
      `${file}:6: trust_proxy: expected true or false`,
      `${file}:9: limits.max_items: unknown key (allowed: max_body_bytes, max_json_bytes, max_batch_items, max_age_s, max_future_s, signature_skew_s, rate_per_probe)`,
      `${file}:10: colour: unknown key (allowed: data_dir, listen, tls, trust_proxy, enrollment_tokens, targets_file, limits, influx, ip_db, events, control, reports_dir)`,
    ]);
  });

  it('reports YAML syntax errors, short tokens, half a tls block and a bad influx URL', () => {
    expect(one('listen: [1, 2')).toMatch(/^c\.yaml:1: /);
    expect(one('enrollment_tokens: [short]')).toBe('c.yaml:1: enrollment_tokens[0]: a token must have at least 16 characters');
    expect(one('tls:\n  cert: a.pem\n')).toBe('c.yaml:2: tls: needs both cert and key');
    expect(one('influx: { url: "ftp://x", bucket: b }')).toBe('c.yaml:1: influx.url: expected an http(s) URL');
    expect(one('influx: { url: "http://127.0.0.1:8086" }')).toBe('c.yaml:1: influx.bucket: missing');
    expect(one('events: { min_probes: 0 }')).toBe('c.yaml:1: events.min_probes: expected an integer from 1 to 1000');
    expect(one('events: { webhook: { url: "http://h.example/x", secret: short } }')).toBe('c.yaml:1: events.webhook.secret: a secret must have at least 16 characters');
    expect(one('events: { webhook: { url: "mailto:x", secret: a-webhook-secret-0123 } }')).toBe('c.yaml:1: events.webhook.url: expected an http(s) URL');
    expect(one('events: { webhook: { secret: a-webhook-secret-0123 } }')).toBe('c.yaml:1: events.webhook.url: missing');
    expect(one('events: { colour: red }')).toMatch(/^c\.yaml:1: events\.colour: unknown key/);
    expect(one('control: { enabled: yes please }')).toBe('c.yaml:1: control.enabled: expected true or false');
    expect(one('control: { interval_minutes: 0 }')).toBe('c.yaml:1: control.interval_minutes: expected an integer from 1 to 1440');
    expect(one('control: { window_minutes: 2000 }')).toBe('c.yaml:1: control.window_minutes: expected an integer from 1 to 1440');
    expect(one('control: { cc: germany }')).toBe('c.yaml:1: control.cc: expected an ISO 3166-1 alpha-2 code such as DE');
    expect(one('control: { asn: -1 }')).toBe('c.yaml:1: control.asn: expected an integer from 0 to 4294967295');
    expect(one('control: { where: abroad }')).toMatch(/^c\.yaml:1: control\.where: unknown key \(allowed: enabled, interval_minutes, window_minutes, asn, cc, enrollment_tokens\)/);
    expect(one('control: { enrollment_tokens: [short] }')).toBe('c.yaml:1: control.enrollment_tokens[0]: a token must have at least 16 characters');
    expect(one('enrollment_tokens: [a-shared-token-0123456]\ncontrol:\n  enrollment_tokens:\n    - a-control-token-0123456\n    - a-shared-token-0123456\n')).toBe(
      'c.yaml:5: control.enrollment_tokens[1]: is also in enrollment_tokens: a token enrolls either probes of the measured networks or controls, not both',
    );
    expect(one('')).toBe('no error');
    expect(parseCollectorConfig('data_dir: d\n', 'c.yaml', '/base', {}).data_dir).toBe('/base/d');
  });

  it('takes tls: auto as the certificate and key kept in data_dir/tls, wherever data_dir is written', () => {
    const auto = { cert: '/srv/ashyq/tls/cert.pem', key: '/srv/ashyq/tls/key.pem', auto: true };
    expect(parseCollectorConfig('tls: auto\ndata_dir: /srv/ashyq\n', 'c.yaml', '/base', {}).tls).toEqual(auto);
    expect(parseCollectorConfig('data_dir: ashyq\ntls: auto\n', 'c.yaml', '/srv', {}).tls).toEqual(auto);
    expect(parseCollectorConfig('tls: auto\n', 'c.yaml', '/base', {}).tls).toEqual(autoTlsFiles(path.resolve('var/collector')));
    expect(parseCollectorConfig('tls: { cert: c.pem, key: k.pem }\n', 'c.yaml', '/base', {}).tls, 'configured files are not made').toEqual({ cert: '/base/c.pem', key: '/base/k.pem' });
    expect(one('tls: Auto')).toBe('c.yaml:1: tls: expected auto (a self-signed certificate the collector makes in data_dir/tls) or a mapping with cert and key, got "Auto"');
    expect(one('tls: 1')).toBe('c.yaml:1: tls: expected auto (a self-signed certificate the collector makes in data_dir/tls) or a mapping with cert and key, got 1');
    expect(one('tls: { auto: true, cert: c.pem }')).toBe('c.yaml:1: tls.auto: write `tls: auto` on its own (the certificate and key are then made in data_dir/tls), or give cert and key');
    expect(one('tls: [auto]')).toBe('c.yaml:1: tls: expected a mapping');
  });

  it("refuses the example env file's placeholder secrets, naming the variable and the file to edit", () => {
    const message = (env: Record<string, string>) => {
      try {
        parseCollectorConfig('data_dir: d\n', 'c.yaml', '/base', env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(message({ ASHYQ_ENROLLMENT_TOKEN: `${PLACEHOLDER_PREFIX}a-long-random-token` })).toBe(
      '(environment): ASHYQ_ENROLLMENT_TOKEN: still the placeholder of deploy/collector.env.example (replace-with-…): set ASHYQ_ENROLLMENT_TOKEN in deploy/collector.env to a long random value (e.g. from `openssl rand -base64 32`) and start again',
    );
    expect(message({ ASHYQ_INFLUX_URL: 'http://influxdb:8086', ASHYQ_INFLUX_BUCKET: 'ashyq', ASHYQ_INFLUX_TOKEN: ' replace-with-a-long-random-token' })).toBe(
      '(environment): ASHYQ_INFLUX_TOKEN: still the placeholder of deploy/collector.env.example (replace-with-…): set INFLUX_TOKEN (passed as ASHYQ_INFLUX_TOKEN) in deploy/collector.env to a long random value (e.g. from `openssl rand -base64 32`) and start again',
    );
    expect(() => defaultCollectorConfig({ ASHYQ_ENROLLMENT_TOKEN: 'replace-with-a-long-random-token' }), 'the embedded default too').toThrow(/ASHYQ_ENROLLMENT_TOKEN: still the placeholder/);
    expect(message({ ASHYQ_ENROLLMENT_TOKEN: 'a-real-token-with-replace-with-inside', ASHYQ_INFLUX_URL: 'http://i:8086', ASHYQ_INFLUX_BUCKET: 'b', ASHYQ_INFLUX_TOKEN: 'r3al' })).toBe('no error');
  });
});
