// Invalid config and target files: one fixture per rule, every error reported with file:line, weird input never crashes.
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, ConfigErrors } from '../common/errors.js';
import { loadCollectorConfig } from '../collector/config.js';
import { loadProbeConfig, parseProbeConfig } from '../probe/config/probe-config.js';
import { loadTargets, packagedTargetsPath, parseTargets } from '../contract/target-list.js';

const dir = (name: string) => fileURLToPath(new URL(`./fixtures/config/${name}`, import.meta.url));
const INVALID = dir('invalid');

interface Case {
  fixture: string;
  line: number;
  /** Key path named by the error; undefined for problems of the whole file. */
  key: string | undefined;
  /** Text the message must contain after "FILE:LINE: KEY: ". */
  problem: string;
}

/** One fixture per rule. Files named probe-*.yaml are probe configs, collector-*.yaml collector configs, the others target files. */
const CASES: Case[] = [
  // target files
  { fixture: 'unknown-key.yaml', line: 6, key: 'targets[0].domain', problem: 'unknown key "domain"' },
  { fixture: 'unknown-top-key.yaml', line: 3, key: 'schedule', problem: 'unknown key "schedule" (allowed: version, targets)' },
  { fixture: 'wrong-type.yaml', line: 7, key: 'targets[0].ports', problem: 'expected a list, got 443' },
  { fixture: 'missing-field.yaml', line: 3, key: 'targets[0].category', problem: 'missing required field' },
  { fixture: 'duplicate-id.yaml', line: 8, key: 'targets[1].id', problem: 'duplicate id "youtube" (also at line 3)' },
  { fixture: 'bad-id.yaml', line: 3, key: 'targets[0].id', problem: 'got "You Tube"' },
  { fixture: 'bad-hostname.yaml', line: 8, key: 'targets[0].domains[1]', problem: 'expected a lower-case hostname such as "www.youtube.com", got "https://youtube.com/"' },
  { fixture: 'uppercase-hostname.yaml', line: 6, key: 'targets[0].domains[0]', problem: 'got "www.YouTube.com"' },
  { fixture: 'duplicate-domain.yaml', line: 9, key: 'targets[0].domains[2]', problem: 'duplicate "www.youtube.com" (already listed at line 7)' },
  { fixture: 'bad-ip.yaml', line: 8, key: 'targets[0].endpoints[1].ip', problem: 'expected an IPv4 or IPv6 address, got "149.154.175.500"' },
  { fixture: 'bad-port.yaml', line: 10, key: 'targets[3].ports[1]', problem: 'expected an integer 1..65535, got "https"' },
  { fixture: 'port-out-of-range.yaml', line: 13, key: 'targets[1].ports[1]', problem: 'expected an integer 1..65535, got 65536' },
  { fixture: 'tls-ports-not-subset.yaml', line: 8, key: 'targets[0].tls_ports[1]', problem: 'port 8443 is not among the ports connected to (80, 443)' },
  { fixture: 'private-ca-stray.yaml', line: 7, key: 'targets[0].private_ca', problem: 'private_ca names domains the target does not have: storage.signal.org' },
  { fixture: 'canary-missing.yaml', line: 3, key: 'targets[0].canary', problem: 'missing required field' },
  { fixture: 'canary-forbidden.yaml', line: 6, key: 'targets[0].canary', problem: 'only targets of category canary have this field' },
  { fixture: 'canary-bad-value.yaml', line: 6, key: 'targets[0].canary', problem: 'expected one of domestic, international, got "local"' },
  { fixture: 'bad-category.yaml', line: 5, key: 'targets[0].category', problem: 'got "streaming"' },
  { fixture: 'empty-target.yaml', line: 7, key: 'targets[1]', problem: 'a target needs at least one domain or endpoint' },
  { fixture: 'bad-status.yaml', line: 9, key: 'targets[0].http.status[2]', problem: 'expected an integer 100..599, got 700' },
  { fixture: 'missing-status.yaml', line: 7, key: 'targets[0].http.status', problem: 'missing required field' },
  { fixture: 'bad-http-path.yaml', line: 7, key: 'targets[0].http.path', problem: 'got "index.html"' },
  { fixture: 'http-without-domains.yaml', line: 8, key: 'targets[0].http', problem: 'this target has none' },
  { fixture: 'bulk-not-a-url.yaml', line: 7, key: 'targets[0].bulk', problem: 'expected an http:// or https:// URL without credentials, port or #fragment' },
  { fixture: 'bulk-host-not-domain.yaml', line: 7, key: 'targets[0].bulk', problem: "the bulk URL's host yt3.ggpht.com is not one of the target's domains (i.ytimg.com)" },
  { fixture: 'bulk-port-not-measured.yaml', line: 7, key: 'targets[0].bulk', problem: 'an http bulk URL needs 80 in ports' },
  { fixture: 'probe-throttle-ratio-range.yaml', line: 2, key: 'measure.throttle_ratio', problem: 'expected a fraction between 0 and 1 (exclusive), e.g. 0.1, got 1.5' },
  { fixture: 'probe-throttle-handshake-order.yaml', line: 3, key: 'measure.throttle_canary_handshake_ms', problem: 'throttle_canary_handshake_ms (500) must be below throttle_handshake_ms (300)' },
  { fixture: 'probe-bulk-max-range.yaml', line: 2, key: 'measure.bulk_max_kb', problem: 'expected an integer 0..16384, got -1' },
  { fixture: 'probe-page-max-range.yaml', line: 2, key: 'measure.page_max_kb', problem: 'expected an integer 1..16384, got 0' },
  { fixture: 'probe-bulk-every-range.yaml', line: 2, key: 'measure.bulk_every_runs', problem: 'expected an integer 1..1000, got 0' },
  { fixture: 'probe-data-budget-range.yaml', line: 2, key: 'schedule.data_budget_mb', problem: 'expected an integer 0..1000000, got -5' },
  { fixture: 'http-plain-without-80.yaml', line: 9, key: 'targets[0].http', problem: 'plain HTTP on port 80, which is not in ports' },
  { fixture: 'duplicate-yaml-key.yaml', line: 7, key: 'targets[0].name', problem: 'duplicate key (first at line 4)' },
  { fixture: 'yaml-syntax.yaml', line: 6, key: undefined, problem: 'YAML syntax error: Flow sequence' },
  { fixture: 'bad-version.yaml', line: 2, key: 'version', problem: 'unsupported version 2' },
  { fixture: 'no-targets.yaml', line: 3, key: 'targets', problem: 'expected at least one target' },
  { fixture: 'dangling-alias.yaml', line: 7, key: 'targets[0].http', problem: 'alias *expected_ok refers to no anchor' },
  // probe configs
  { fixture: 'probe-unknown-key.yaml', line: 6, key: 'uploads', problem: 'unknown key "uploads" (allowed: probe, measure, targets_file, state_dir, collector, schedule, spool, upload)' },
  { fixture: 'probe-bad-resolver.yaml', line: 6, key: 'measure.resolvers[2]', problem: 'unknown resolver "tcp:8.8.8.8:53"' },
  { fixture: 'probe-resolver-hostname.yaml', line: 3, key: 'measure.resolvers[1]', problem: '"dns.google" is not an IP address' },
  { fixture: 'probe-resolver-ipv6-brackets.yaml', line: 3, key: 'measure.resolvers[1]', problem: 'write IPv6 addresses in brackets' },
  { fixture: 'probe-timeout-range.yaml', line: 3, key: 'measure.timeout_ms', problem: 'expected an integer 100..120000, got 0' },
  { fixture: 'probe-wrong-type.yaml', line: 3, key: 'measure.concurrency', problem: 'expected an integer 1..1024, got "many"' },
  { fixture: 'probe-bad-asn.yaml', line: 3, key: 'probe.asn', problem: 'got "AS9198"' },
  { fixture: 'probe-bad-cc.yaml', line: 4, key: 'probe.cc', problem: 'ISO 3166 alpha-2 country code in upper case, e.g. KZ, got "kz"' },
  { fixture: 'probe-bad-qtype.yaml', line: 3, key: 'measure.qtypes[2]', problem: 'expected one of A, AAAA, got "MX"' },
  { fixture: 'probe-bad-control-doh.yaml', line: 3, key: 'measure.control_doh', problem: 'must use https://' },
  { fixture: 'probe-bad-neutral-sni.yaml', line: 3, key: 'measure.neutral_sni', problem: 'expected a lower-case hostname, got "93.184.215.14"' },
  { fixture: 'probe-window-not-below-timeout.yaml', line: 4, key: 'measure.dns_listen_window_ms', problem: 'must be shorter than timeout_ms (2000 ms)' },
  { fixture: 'probe-per-host-above-global.yaml', line: 4, key: 'measure.per_host_concurrency', problem: 'must not exceed concurrency (8)' },
  { fixture: 'probe-duplicate-key.yaml', line: 5, key: 'measure.timeout_ms', problem: 'duplicate key (first at line 3)' },
  { fixture: 'probe-yaml-syntax.yaml', line: 3, key: undefined, problem: 'YAML syntax error: Tabs are not allowed as indentation' },
  { fixture: 'probe-not-a-map.yaml', line: 2, key: undefined, problem: 'expected a map, got a list' },
  { fixture: 'probe-missing-ca-file.yaml', line: 5, key: 'measure.extra_ca_files[1]', problem: 'no-such-ca.pem" (ENOENT)' },
  { fixture: 'probe-ca-not-pem.yaml', line: 3, key: 'measure.extra_ca_files[0]', problem: 'holds no PEM certificate' },
  { fixture: 'probe-missing-targets-file.yaml', line: 2, key: 'targets_file', problem: 'no-such-targets.yaml" (ENOENT)' },
  // the daemon's sections of the probe config
  { fixture: 'probe-state-dir-type.yaml', line: 2, key: 'state_dir', problem: 'expected a directory path, got a list' },
  { fixture: 'probe-collector-missing-url.yaml', line: 3, key: 'collector.url', problem: 'missing required field' },
  { fixture: 'probe-collector-no-pin.yaml', line: 3, key: 'collector.url', problem: 'an https collector needs pin_spki_sha256' },
  { fixture: 'probe-collector-http-remote.yaml', line: 3, key: 'collector.url', problem: 'plain http is allowed only to a loopback address' },
  { fixture: 'probe-collector-url-credentials.yaml', line: 3, key: 'collector.url', problem: 'must not carry credentials' },
  { fixture: 'probe-collector-bad-pin.yaml', line: 5, key: 'collector.pin_spki_sha256[0]', problem: "expected a base64 SHA-256 of the collector's public key" },
  { fixture: 'probe-collector-pin-on-http.yaml', line: 4, key: 'collector.pin_spki_sha256', problem: 'pins apply to https collectors only' },
  { fixture: 'probe-collector-bad-token.yaml', line: 5, key: 'collector.enrollment_token', problem: 'got "my token"' },
  { fixture: 'probe-collector-bad-proxy.yaml', line: 5, key: 'collector.proxy', problem: '"ftp://" is not a supported proxy (http://, https:// or socks5://)' },
  { fixture: 'probe-collector-control-age-range.yaml', line: 5, key: 'collector.control_max_age_minutes', problem: 'expected an integer 5..1440, got 0' },
  { fixture: 'probe-collector-socks-no-port.yaml', line: 5, key: 'collector.proxy', problem: 'a socks5 proxy needs a port' },
  { fixture: 'probe-schedule-interval-range.yaml', line: 3, key: 'schedule.interval_minutes', problem: 'expected an integer 1..1440, got 0' },
  { fixture: 'probe-schedule-jitter-range.yaml', line: 4, key: 'schedule.jitter_fraction', problem: 'expected a number 0..0.5, got 0.9' },
  { fixture: 'probe-schedule-surge-above-interval.yaml', line: 4, key: 'schedule.surge_min_interval_minutes', problem: 'surge_min_interval_minutes (45) must not exceed interval_minutes (30): a surge measures more often, never less; lower it, or leave it out to follow the interval' },
  { fixture: 'probe-schedule-surge-above-default-interval.yaml', line: 3, key: 'schedule.surge_min_interval_minutes', problem: 'surge_min_interval_minutes (90) must not exceed interval_minutes (60, the default)' },
  { fixture: 'probe-schedule-surge-hours-range.yaml', line: 3, key: 'schedule.surge_max_hours', problem: 'expected an integer 0..168, got 1000' },
  { fixture: 'probe-schedule-unknown-key.yaml', line: 3, key: 'schedule.interval', problem: 'unknown key "interval"' },
  { fixture: 'probe-spool-cap-range.yaml', line: 3, key: 'spool.cap_mb', problem: 'expected an integer 1..100000, got 0' },
  { fixture: 'probe-upload-batch-range.yaml', line: 3, key: 'upload.batch_size', problem: 'expected an integer 1..1000, got 5000' },
  { fixture: 'probe-upload-backoff-order.yaml', line: 3, key: 'upload.backoff_base_s', problem: 'must not exceed backoff_cap_s (60)' },
  // collector configs
  { fixture: 'collector-tls-not-auto.yaml', line: 4, key: 'tls', problem: 'expected auto (a self-signed certificate the collector makes in data_dir/tls) or a mapping with cert and key, got true' },
  { fixture: 'collector-tls-auto-in-mapping.yaml', line: 4, key: 'tls.auto', problem: 'write `tls: auto` on its own (the certificate and key are then made in data_dir/tls), or give cert and key' },
];

type Loader = 'probe' | 'collector' | 'targets';
const loaderOf = (fixture: string): Loader => (fixture.startsWith('probe-') ? 'probe' : fixture.startsWith('collector-') ? 'collector' : 'targets');

/** Loads a fixture with the loader its name calls for; returns the errors it threw. */
async function errorsOf(file: string, loader: Loader): Promise<ConfigError[]> {
  try {
    if (loader === 'probe') await loadProbeConfig(file);
    else if (loader === 'collector') await loadCollectorConfig(file, {});
    else await loadTargets(file);
  } catch (err) {
    // The collector's loader throws a lone problem as the ConfigError itself.
    if (loader === 'collector' && err instanceof ConfigError) return [err];
    expect(err).toBeInstanceOf(ConfigErrors);
    const errors = (err as ConfigErrors).errors;
    for (const e of errors) expect(e).toBeInstanceOf(ConfigError);
    expect((err as ConfigErrors).message).toBe(errors.map((e) => e.message).join('\n'));
    expect((err as ConfigErrors).code).toBe('ASHYQ_ERR_CONFIG');
    return errors;
  }
  throw new Error(`${file} loaded without an error`);
}

describe('one invalid fixture per rule', () => {
  it('has a case for every fixture and a fixture for every case', () => {
    const files = readdirSync(INVALID).filter((f) => f.endsWith('.yaml')).sort();
    expect(CASES.map((c) => c.fixture).sort()).toEqual(files);
  });

  it.each(CASES)('$fixture → line $line: $problem', async ({ fixture, line, key, problem }) => {
    const file = `${INVALID}/${fixture}`;
    const errors = await errorsOf(file, loaderOf(fixture));
    expect(errors).toHaveLength(1);
    const [error] = errors;
    expect(error?.file).toBe(file);
    expect(error?.line).toBe(line);
    expect(error?.key).toBe(key);
    const head = key === undefined ? `${fixture}:${line}: ` : `${fixture}:${line}: ${key}: `;
    expect(error?.message).toContain(head);
    expect(error?.message).toContain(problem);
    expect(error?.message.startsWith(`${file}:${line}: `)).toBe(true);
  });
});

describe('a file with several errors', () => {
  it('reports all of them, in line order, each with its line and key', async () => {
    const errors = await errorsOf(dir('multi/several-errors.yaml'), 'targets');
    expect(errors.map((e) => [e.line, e.key])).toEqual([
      [6, 'targets[0].domains[1]'],
      [7, 'targets[0].ports[1]'],
      [8, 'targets[1].id'],
      [8, 'targets[1].canary'],
      [9, 'targets[1].name'],
      [12, 'targets[1].colour'],
      [18, 'targets[2].endpoints[1].port'],
      [18, 'targets[2].endpoints[1].ip'],
      [20, 'targets[2].http.status[1]'],
    ]);
    expect(errors[2]?.message).toContain('duplicate id "youtube" (also at line 3)');
    expect(errors[4]?.message).toContain('got an empty string');
  });

  it('reports problems of the probe config together too', () => {
    const text = [
      'probe:',
      '  asn: -1',
      '  cc: Kazakhstan',
      'measure:',
      '  timeout_ms: 5s',
      '  resolvers: []',
      '  qtypes: [A, A]',
      '  colour: red',
      'spool: { cap_gb: 1 }',
    ].join('\n');
    let thrown: unknown;
    try {
      parseProbeConfig(text, 'probe.yaml');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigErrors);
    expect((thrown as ConfigErrors).errors.map((e) => `${e.line} ${e.key}`)).toEqual([
      '2 probe.asn',
      '3 probe.cc',
      '5 measure.timeout_ms',
      '6 measure.resolvers',
      '7 measure.qtypes[1]',
      '8 measure.colour',
      '9 spool.cap_gb',
    ]);
  });
});

/** A small deterministic PRNG (mulberry32) so that every run fuzzes the same inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Parses and checks the outcome: success, or ConfigErrors whose every entry names the file and a line of it. */
function outcome(parse: () => unknown, file: string, text: string): 'ok' | 'errors' {
  try {
    parse();
    return 'ok';
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw new Error(`not a ConfigErrors for ${JSON.stringify(text.slice(0, 80))}`, { cause: err });
    expect(err.errors.length).toBeGreaterThan(0);
    const lines = Math.max(1, text.split('\n').length);
    for (const e of err.errors) {
      expect(e.file).toBe(file);
      expect(e.message.startsWith(`${file}:`)).toBe(true);
      expect(e.line).toBeGreaterThanOrEqual(1);
      expect(e.line).toBeLessThanOrEqual(lines);
    }
    return 'errors';
  }
}

describe('weird input', () => {
  const WEIRD: Array<[string, string]> = [
    ['an empty file', ''],
    ['blank lines', '\n\n   \n'],
    ['only comments', '# nothing here\n# still nothing\n'],
    ['a number', '42\n'],
    ['a string', '"targets"\n'],
    ['a list', '- id: youtube\n'],
    ['null', 'null\n'],
    ['two documents', 'targets: []\n---\ntargets: []\n'],
    ['targets as a scalar', 'targets: youtube\n'],
    ['targets of junk', 'targets: [1, "x", null, [], {}]\n'],
    ['a lone colon', ':\n'],
    ['nested dashes', '- - - -\n'],
    ['unbalanced braces', '{{{{\n'],
    ['deep nesting', `${'['.repeat(300)}${']'.repeat(300)}\n`],
    ['a complex key', '? [a, b]\n: c\n'],
    ['a list that contains itself', 'targets: &a [*a]\nmeasure: &m { timeout_ms: *m }\n'],
    ['an unknown tag', 'targets: !include other.yaml\n'],
    ['a huge number', 'targets:\n  - id: a\n    name: A\n    category: video\n    domains: [a.kz]\n    ports: [1e400]\n'],
    ['a date and a bool', 'targets:\n  - id: 2019-05-09\n    name: true\n    category: video\n    domains: [a.kz]\n'],
    ['control characters', 'targets:\n  - id: "\\u0000"\n    name: "\\u0007\\u001b[31m"\n    category: video\n    domains: ["\\u0000.kz"]\n'],
    ['CRLF line endings', 'targets:\r\n  - id: a\r\n    name: A\r\n    category: videos\r\n    domains: [a.kz]\r\n'],
    ['a byte-order mark', '\ufefftargets: 7\n'],
  ];

  it.each(WEIRD)('%s: target files report errors with lines, never crash', (_, text) => {
    expect(outcome(() => parseTargets(text, 'weird.yaml'), 'weird.yaml', text)).toBe('errors');
  });

  it.each(WEIRD)('%s: probe configs give defaults or errors with lines, never crash', (_, text) => {
    const result = outcome(() => parseProbeConfig(text, 'weird.yaml'), 'weird.yaml', text);
    const blank = text.replace(/#.*$/gm, '').trim() === '' || text.trim() === 'null';
    expect(result).toBe(blank ? 'ok' : 'errors');
  });

  it('binary junk is reported as errors, in any decoding', () => {
    const random = prng(9198);
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 400) }, () => Math.floor(random() * 256)));
      for (const text of [bytes.toString('utf8'), bytes.toString('latin1')]) {
        expect(outcome(() => parseTargets(text, 'junk.yaml'), 'junk.yaml', text)).toBe('errors');
        outcome(() => parseProbeConfig(text, 'junk.yaml'), 'junk.yaml', text);
      }
    }
  });

  it('damaged copies of the real targets.yaml load or fail cleanly', async () => {
    const original = await readFile(packagedTargetsPath(), 'utf8');
    const random = prng(2019);
    const pick = (n: number) => Math.floor(random() * n);
    const tokens = [':', '-', '[', ']', '{', '}', '"', "'", '&a', '*a', '\t', '  ', '\n', '#', '!', '|', '>', '0', 'x', ','];
    let failures = 0;
    for (let i = 0; i < 250; i++) {
      let text = original;
      for (let edits = 1 + pick(3); edits > 0; edits--) {
        const at = pick(text.length);
        const kind = pick(4);
        if (kind === 0) text = text.slice(0, at) + text.slice(at + 1 + pick(8));
        else if (kind === 1) text = text.slice(0, at) + (tokens[pick(tokens.length)] ?? '') + text.slice(at);
        else {
          const lines = text.split('\n');
          const a = pick(lines.length);
          const b = pick(lines.length);
          if (kind === 2) lines.splice(b, 0, lines[a] ?? '');
          else [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
          text = lines.join('\n');
        }
      }
      if (outcome(() => parseTargets(text, 'targets.yaml'), 'targets.yaml', text) === 'errors') failures++;
    }
    // Most random damage must be caught (comments and blank lines absorb some edits harmlessly).
    expect(failures).toBeGreaterThan(150);
  });

  it('a file that cannot be read is a config error naming it', async () => {
    for (const load of [loadTargets, loadProbeConfig]) {
      const missing = dir('invalid/does-not-exist.yaml');
      await expect(load(missing)).rejects.toThrow(ConfigErrors);
      await expect(load(missing)).rejects.toThrow(`${missing}: cannot read the file (ENOENT)`);
      await expect(load(INVALID)).rejects.toThrow(`${INVALID}: cannot read the file (EISDIR)`);
    }
  });
});
