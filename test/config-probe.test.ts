// The probe config: embedded defaults, valid files, relative paths, round trips and the resolver strings.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../common/errors.js';
import { resolverName } from '../probe/measure/dns.js';
import {
  DEFAULT_PROBE_CONFIG,
  defaultProbeConfig,
  formatProbeConfig,
  loadProbeConfig,
  parseProbeConfig,
  stateDirOf,
  targetsFileOf,
} from '../probe/config/probe-config.js';
import { parseResolver, type ResolverSpec } from '../probe/config/resolver.js';
import { packagedTargetsPath } from '../contract/target-list.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/config/${name}`, import.meta.url));

describe('defaults', () => {
  it('are the documented ones', () => {
    expect(DEFAULT_PROBE_CONFIG).toEqual({
      probe: { asn: null, cc: null, network: null },
      measure: {
        timeout_ms: 5000,
        dns_listen_window_ms: 300,
        concurrency: 128,
        per_host_concurrency: 4,
        neutral_sni: 'www.example.com',
        resolvers: [
          { kind: 'system' },
          { kind: 'udp', address: '8.8.8.8', port: 53 },
          { kind: 'udp', address: '1.1.1.1', port: 53 },
        ],
        control_doh: null,
        extra_ca_files: [],
        qtypes: ['A', 'AAAA'],
        page_max_kb: 16,
        bulk_max_kb: 256,
        bulk_max_ms: 4000,
        bulk_every_runs: 6,
        throttle_ratio: 0.1,
        throttle_max_kb_per_s: 32,
        throttle_handshake_ms: 2000,
        throttle_canary_handshake_ms: 300,
      },
      targets_file: null,
      state_dir: null,
      collector: null,
      schedule: { interval_minutes: 60, jitter_fraction: 0.1, surge_min_interval_minutes: 10, surge_max_hours: 6, data_budget_mb: 0 },
      spool: { cap_mb: 50 },
      upload: { batch_size: 100, backoff_base_s: 5, backoff_cap_s: 3600 },
    });
  });

  it('are frozen all the way down; loaders hand out fresh copies', async () => {
    expect(Object.isFrozen(DEFAULT_PROBE_CONFIG.measure.resolvers[1])).toBe(true);
    expect(() => {
      (DEFAULT_PROBE_CONFIG.measure as { timeout_ms: number }).timeout_ms = 1;
    }).toThrow(TypeError);
    const a = await loadProbeConfig();
    const b = defaultProbeConfig();
    expect(a).toEqual(DEFAULT_PROBE_CONFIG);
    a.measure.resolvers.push({ kind: 'doh', url: 'https://dns.example/dns-query' });
    a.measure.timeout_ms = 1;
    expect(b.measure.resolvers).toHaveLength(3);
    expect((await loadProbeConfig()).measure.timeout_ms).toBe(5000);
  });

  it('apply to an empty file, a file of comments and a null document', async () => {
    expect(parseProbeConfig('', 'probe.yaml')).toEqual(DEFAULT_PROBE_CONFIG);
    expect(parseProbeConfig('~\n', 'probe.yaml')).toEqual(DEFAULT_PROBE_CONFIG);
    expect(await loadProbeConfig(fixture('valid/probe-comments-only.yaml'))).toEqual(DEFAULT_PROBE_CONFIG);
  });

  it('fill what a partial file leaves out', async () => {
    const config = await loadProbeConfig(fixture('valid/probe-partial.yaml'));
    const expected = defaultProbeConfig();
    expected.probe.cc = 'KZ';
    expected.measure.timeout_ms = 8000;
    expect(config).toEqual(expected);
  });

  it('fill explicit nulls and empty sections', () => {
    const config = parseProbeConfig('probe:\nmeasure:\n  timeout_ms: ~\n  resolvers: null\ntargets_file:\n', 'probe.yaml');
    expect(config).toEqual(DEFAULT_PROBE_CONFIG);
  });
});

describe('a full config file', () => {
  it('loads every setting, with paths resolved against its directory', async () => {
    const config = await loadProbeConfig(fixture('valid/probe-full.yaml'));
    expect(config).toEqual({
      probe: { asn: 9198, cc: 'KZ', network: 'Kazakhtelecom' },
      measure: {
        timeout_ms: 4000,
        dns_listen_window_ms: 500,
        concurrency: 16,
        per_host_concurrency: 2,
        neutral_sni: 'www.wikipedia.org',
        resolvers: [
          { kind: 'system' },
          { kind: 'udp', address: '8.8.8.8', port: 53 },
          // Not a public resolver: named by its place in the evidence.
          { kind: 'udp', address: '195.210.46.195', port: 53, label: 'own#1' },
          { kind: 'udp', address: '2606:4700:4700::1111', port: 53 },
          { kind: 'doh', url: 'https://cloudflare-dns.com/dns-query' },
        ],
        control_doh: 'https://dns.google/dns-query',
        extra_ca_files: [fixture('files/test-ca.pem')],
        qtypes: ['A'],
        page_max_kb: 48,
        bulk_max_kb: 128,
        bulk_max_ms: 3000,
        bulk_every_runs: 3,
        throttle_ratio: 0.2,
        throttle_max_kb_per_s: 64,
        throttle_handshake_ms: 1500,
        throttle_canary_handshake_ms: 250,
      },
      targets_file: fixture('valid/targets-minimal.yaml'),
      state_dir: fixture('state'),
      collector: {
        url: 'https://collector.example.org/ashyq',
        pin_spki_sha256: ['Xk3zTNCDqyBqVvhVqHN7ChwkBZzUShsnl1GYN5TOy9g=', '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='],
        enrollment_token: 'an-enrollment-token-0123',
        proxy: 'socks5://127.0.0.1:9050',
        control_max_age_minutes: 90,
      },
      schedule: { interval_minutes: 30, jitter_fraction: 0.2, surge_min_interval_minutes: 5, surge_max_hours: 12, data_budget_mb: 900 },
      spool: { cap_mb: 20 },
      upload: { batch_size: 250, backoff_base_s: 10, backoff_cap_s: 1800 },
    });
    expect(targetsFileOf(config)).toBe(fixture('valid/targets-minimal.yaml'));
  });

  it('keeps relative paths as written when parsed without a base directory', () => {
    const text = 'measure:\n  extra_ca_files: [ca/root.pem]\ntargets_file: my-targets.yaml\n';
    const plain = parseProbeConfig(text, 'probe.yaml');
    expect(plain.measure.extra_ca_files).toEqual(['ca/root.pem']);
    expect(plain.targets_file).toBe('my-targets.yaml');
    const based = parseProbeConfig(text, 'probe.yaml', { baseDir: '/etc/ashyq' });
    expect(based.measure.extra_ca_files).toEqual([path.resolve('/etc/ashyq', 'ca/root.pem')]);
    expect(based.targets_file).toBe(path.resolve('/etc/ashyq', 'my-targets.yaml'));
  });

  it('round-trips through formatProbeConfig', async () => {
    for (const config of [defaultProbeConfig(), await loadProbeConfig(fixture('valid/probe-full.yaml'))]) {
      const text = formatProbeConfig(config);
      expect(parseProbeConfig(text, 'formatted.yaml')).toEqual(config);
    }
  });

  it('points at the packaged targets.yaml when targets_file is null', () => {
    expect(targetsFileOf(defaultProbeConfig())).toBe(packagedTargetsPath());
  });
});

describe('the daemon sections', () => {
  const PIN = 'Xk3zTNCDqyBqVvhVqHN7ChwkBZzUShsnl1GYN5TOy9g=';

  it('allow plain http to a loopback collector (a local tunnel) without pins', () => {
    for (const url of ['http://127.0.0.1:8480', 'http://localhost:8480/', 'http://[::1]:8480/base/']) {
      const config = parseProbeConfig(`collector:\n  url: ${url}\n`, 'probe.yaml');
      expect(config.collector).toEqual({ url: url.replace(/\/$/, ''), pin_spki_sha256: [], enrollment_token: null, proxy: null, control_max_age_minutes: 180 });
    }
  });

  it('take http, https and socks5 proxies, credentials included', () => {
    for (const proxy of ['http://proxy.lan:3128', 'https://proxy.example.org', 'socks5://user:pw@127.0.0.1:1080']) {
      const text = `collector:\n  url: https://c.example.org\n  pin_spki_sha256: [${JSON.stringify(PIN)}]\n  proxy: ${JSON.stringify(proxy)}\n`;
      expect(parseProbeConfig(text, 'probe.yaml').collector?.proxy).toBe(proxy);
    }
  });

  it('refuse a query in the collector URL and a path in the proxy URL', () => {
    expect(() => parseProbeConfig(`collector:\n  url: "https://c.example.org/?k=1"\n  pin_spki_sha256: [${JSON.stringify(PIN)}]\n`, 'p.yaml')).toThrow(
      'p.yaml:2: collector.url: "https://c.example.org/?k=1" must not have a ?query or #fragment',
    );
    expect(() =>
      parseProbeConfig(`collector:\n  url: https://c.example.org\n  pin_spki_sha256: [${JSON.stringify(PIN)}]\n  proxy: http://p.lan:3128/x\n`, 'p.yaml'),
    ).toThrow('p.yaml:4: collector.proxy: "http://p.lan:3128/x": a proxy URL has no path, query or fragment');
  });

  it('read a fractional jitter and zero surge hours (surges ignored)', () => {
    const config = parseProbeConfig('schedule:\n  jitter_fraction: 0\n  surge_max_hours: 0\n', 'probe.yaml');
    expect(config.schedule).toEqual({ interval_minutes: 60, jitter_fraction: 0, surge_min_interval_minutes: 10, surge_max_hours: 0, data_budget_mb: 0 });
  });

  it('let an unset surge_min_interval_minutes follow a shorter interval down (interval_minutes: 1 alone is valid)', () => {
    const floor = (text: string) => parseProbeConfig(text, 'probe.yaml').schedule.surge_min_interval_minutes;
    expect(floor('schedule:\n  interval_minutes: 1\n')).toBe(1);
    expect(floor('schedule:\n  interval_minutes: 5\n')).toBe(5);
    expect(floor('schedule:\n  interval_minutes: 10\n')).toBe(10);
    expect(floor('schedule:\n  interval_minutes: 30\n')).toBe(10);
    expect(floor('schedule:\n  interval_minutes: 1\n  surge_min_interval_minutes: null\n')).toBe(1);
    // An explicit floor is kept as written, up to the interval; above it is refused (see config-invalid).
    expect(floor('schedule:\n  interval_minutes: 30\n  surge_min_interval_minutes: 30\n')).toBe(30);
    expect(floor('schedule:\n  interval_minutes: 1\n  surge_min_interval_minutes: 1\n')).toBe(1);
    expect(() => parseProbeConfig('schedule:\n  interval_minutes: 1\n  surge_min_interval_minutes: 10\n', 'p.yaml')).toThrow(
      'p.yaml:3: schedule.surge_min_interval_minutes: surge_min_interval_minutes (10) must not exceed interval_minutes (1)',
    );
  });

  it('put the state in state_dir, else systemd\'s STATE_DIRECTORY, else ./var/probe', () => {
    const config = defaultProbeConfig();
    expect(stateDirOf(config, {})).toBe(path.resolve('var/probe'));
    expect(stateDirOf(config, { STATE_DIRECTORY: '/var/lib/ashyq:/var/lib/other' })).toBe('/var/lib/ashyq');
    config.state_dir = '/srv/probe';
    expect(stateDirOf(config, { STATE_DIRECTORY: '/var/lib/ashyq' })).toBe('/srv/probe');
  });
});

describe('configured resolvers in the evidence', () => {
  it('names a UDP resolver that is not a public one by its place (own#N), never its address; public ones keep theirs', () => {
    const config = parseProbeConfig(
      'measure:\n  resolvers: [system, "udp:192.168.1.1:53", "udp:8.8.8.8:53", "udp:[2001:4860:4860:0::8888]:53", "udp:203.0.113.7", "doh:https://dns.google/dns-query"]\n',
      'probe.yaml',
    );
    const names = config.measure.resolvers.map(resolverName);
    expect(names).toEqual(['system', 'own#1', 'udp:8.8.8.8:53', 'udp:[2001:4860:4860:0::8888]:53', 'own#2', 'doh:https://dns.google/dns-query']);
    // The address is still what is asked.
    expect(config.measure.resolvers[1]).toEqual({ kind: 'udp', address: '192.168.1.1', port: 53, label: 'own#1' });
    expect(JSON.stringify(names)).not.toContain('192.168.1.1');
    expect(JSON.stringify(names)).not.toContain('203.0.113.7');
  });
});

describe('resolver strings', () => {
  const GOOD: Array<[string, ResolverSpec, string]> = [
    ['system', { kind: 'system' }, 'system'],
    ['udp:8.8.8.8:53', { kind: 'udp', address: '8.8.8.8', port: 53 }, 'udp:8.8.8.8:53'],
    ['udp:195.210.46.195', { kind: 'udp', address: '195.210.46.195', port: 53 }, 'udp:195.210.46.195:53'],
    ['udp:127.0.0.1:5353', { kind: 'udp', address: '127.0.0.1', port: 5353 }, 'udp:127.0.0.1:5353'],
    ['udp:[2001:4860:4860::8888]:53', { kind: 'udp', address: '2001:4860:4860::8888', port: 53 }, 'udp:[2001:4860:4860::8888]:53'],
    ['udp:[::1]', { kind: 'udp', address: '::1', port: 53 }, 'udp:[::1]:53'],
    [
      'doh:https://cloudflare-dns.com/dns-query',
      { kind: 'doh', url: 'https://cloudflare-dns.com/dns-query' },
      'doh:https://cloudflare-dns.com/dns-query',
    ],
    ['doh:https://127.0.0.1:8443/q?x=1', { kind: 'doh', url: 'https://127.0.0.1:8443/q?x=1' }, 'doh:https://127.0.0.1:8443/q?x=1'],
  ];

  it.each(GOOD)('%s parses and prints canonically', (text, spec, canonical) => {
    expect(parseResolver(text)).toEqual(spec);
    expect(resolverName(parseResolver(text))).toBe(canonical);
    expect(parseResolver(canonical)).toEqual(spec);
  });

  const BAD: Array<[string, string]> = [
    ['', 'unknown resolver ""'],
    ['System', 'unknown resolver "System"'],
    ['tcp:1.1.1.1:53', 'unknown resolver'],
    ['8.8.8.8', 'unknown resolver'],
    ['udp:', 'is not an IP address'],
    ['udp:8.8.8.8:0', 'port "0" is not an integer 1..65535'],
    ['udp:8.8.8.8:65536', 'port "65536"'],
    ['udp:8.8.8.8:53x', 'port "53x"'],
    ['udp:8.8.8.8:', 'port ""'],
    ['udp:dns.google:53', '"dns.google" is not an IP address'],
    ['udp:999.1.1.1', 'is not an IP address'],
    ['udp:2001:db8::1', 'write IPv6 addresses in brackets'],
    ['udp:[8.8.8.8]:53', '"8.8.8.8" is not an IPv6 address'],
    ['udp:[fe80::1%eth0]:53', 'is not an IPv6 address'],
    ['udp:[::1]53', 'expected udp:[IPv6]:PORT'],
    ['udp:[::1', 'expected udp:[IPv6]:PORT'],
    ['doh:http://cloudflare-dns.com/dns-query', 'must use https://'],
    ['doh:cloudflare-dns.com/dns-query', 'is not a URL'],
    ['doh:https://user:secret@dns.example/dns-query', 'must not carry credentials'],
    ['doh:https://dns.example/dns-query#x', 'must not have a #fragment'],
  ];

  it.each(BAD)('%j is refused: %s', (text, problem) => {
    expect(() => parseResolver(text)).toThrow(InvalidArgumentError);
    expect(() => parseResolver(text)).toThrow(problem);
  });

  it('duplicates are caught after canonicalisation', () => {
    expect(() => parseProbeConfig('measure:\n  resolvers: [udp:1.1.1.1, "udp:1.1.1.1:53"]\n', 'probe.yaml')).toThrow(
      'probe.yaml:2: measure.resolvers[1]: duplicate "udp:1.1.1.1:53" (already listed at line 2)',
    );
  });
});
