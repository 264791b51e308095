// The probe's own config file (YAML): what the volunteer states about the network and how to measure, validated once.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError } from '../../common/errors.js';
import type { DnsQueryType } from '../../contract/evidence.js';
import { resolverName } from '../measure/dns.js';
import { isHostname } from '../../common/hostname.js';
import {
  DAEMON_DEFAULTS,
  readCollector,
  readSchedule,
  readSpool,
  readUpload,
  SCHEDULE_KEYS,
  SPOOL_KEYS,
  UPLOAD_KEYS,
  type CollectorSettings,
  type ScheduleSettings,
  type SpoolSettings,
  type UploadSettings,
} from './daemon-settings.js';
import { checkDohUrl, labelOwnResolvers, parseResolver, RESOLVER_FORMS } from './resolver.js';
import type { ResolverSpec } from './resolver.js';
import { packagedTargetsPath, unreadable } from '../../contract/target-list.js';
import { YamlSource } from '../../common/yaml-source.js';
import type { Place, YamlMap, YamlValue } from '../../common/yaml-source.js';

/** What the volunteer chooses to state about the network; all optional, never looked up by the probe. */
export interface ProbeNetwork {
  asn: number | null;
  /** ISO 3166-1 alpha-2, upper case (KZ). */
  cc: string | null;
  /** Free text, e.g. "Kazakhtelecom". */
  network: string | null;
}

export interface MeasureSettings {
  /** Bound on every single step (a DNS query, a connect, a handshake, a request). */
  timeout_ms: number;
  /** How long DNS keeps listening after the first answer (injected answers race the real one). */
  dns_listen_window_ms: number;
  concurrency: number;
  per_host_concurrency: number;
  /** SNI of the second handshake that tells SNI filtering from IP blocking. */
  neutral_sni: string;
  resolvers: ResolverSpec[];
  /** A DoH URL outside the censor's reach, used as control when reachable. */
  control_doh: string | null;
  /** PEM files added to Node's roots (absolute after loadProbeConfig). */
  extra_ca_files: string[];
  qtypes: DnsQueryType[];
  /** Front pages (and block pages) are read up to this many KiB: titles and block pages sit at the start. */
  page_max_kb: number;
  /** Bulk reads: at most this many KiB per resource (0: no bulk reads) and this long (ms)... */
  bulk_max_kb: number;
  bulk_max_ms: number;
  /** ...in one daemon run of this many (a run --once always reads them). */
  bulk_every_runs: number;
  /** Throttling: a bulk rate below this fraction of the canaries' best and below throttle_max_kb_per_s (kB/s)... */
  throttle_ratio: number;
  throttle_max_kb_per_s: number;
  /** ...or a fastest TLS handshake slower than this (ms) while a canary's took less than throttle_canary_handshake_ms. */
  throttle_handshake_ms: number;
  throttle_canary_handshake_ms: number;
}

export type { CollectorSettings, ScheduleSettings, SpoolSettings, UploadSettings };

export interface ProbeConfig {
  probe: ProbeNetwork;
  measure: MeasureSettings;
  /** The target list; null means the targets.yaml shipped with the package (see targetsFileOf). */
  targets_file: string | null;
  /** The daemon's state (identity, spool, cached targets, status); null: see stateDirOf. */
  state_dir: string | null;
  /** Where the daemon uploads; null: it only measures and spools. */
  collector: CollectorSettings | null;
  schedule: ScheduleSettings;
  spool: SpoolSettings;
  upload: UploadSettings;
}

const TOP_KEYS = ['probe', 'measure', 'targets_file', 'state_dir', 'collector', 'schedule', 'spool', 'upload'] as const;
const PROBE_KEYS = ['asn', 'cc', 'network'] as const;
const MEASURE_KEYS = [
  'timeout_ms',
  'dns_listen_window_ms',
  'concurrency',
  'per_host_concurrency',
  'neutral_sni',
  'resolvers',
  'control_doh',
  'extra_ca_files',
  'qtypes',
  'page_max_kb',
  'bulk_max_kb',
  'bulk_max_ms',
  'bulk_every_runs',
  'throttle_ratio',
  'throttle_max_kb_per_s',
  'throttle_handshake_ms',
  'throttle_canary_handshake_ms',
] as const;
const QTYPES: readonly DnsQueryType[] = ['A', 'AAAA'];

/** Front pages read up to this many KiB by default (see README, data and resources). */
export const PAGE_MAX_KB_DEFAULT = 16;

/** Limits of the numeric settings (inclusive). */
export const LIMITS = {
  asn: [1, 4294967295],
  timeout_ms: [100, 120_000],
  dns_listen_window_ms: [0, 60_000],
  concurrency: [1, 1024],
  per_host_concurrency: [1, 1024],
  page_max_kb: [1, 16_384],
  bulk_max_kb: [0, 16_384],
  bulk_max_ms: [100, 60_000],
  bulk_every_runs: [1, 1000],
  throttle_max_kb_per_s: [1, 1_000_000],
  throttle_handshake_ms: [1, 120_000],
  throttle_canary_handshake_ms: [1, 120_000],
} as const;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The embedded defaults, used when no config file is given (frozen: copy with defaultProbeConfig()). */
export const DEFAULT_PROBE_CONFIG: Readonly<ProbeConfig> = deepFreeze({
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
    page_max_kb: PAGE_MAX_KB_DEFAULT,
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
  schedule: { ...DAEMON_DEFAULTS.schedule },
  spool: { ...DAEMON_DEFAULTS.spool },
  upload: { ...DAEMON_DEFAULTS.upload },
});

/** A fresh, mutable copy of the defaults. */
export function defaultProbeConfig(): ProbeConfig {
  return structuredClone(DEFAULT_PROBE_CONFIG) as ProbeConfig;
}

export interface ParseOptions {
  /** Directory that relative paths (extra_ca_files, targets_file) are resolved against; kept as written when absent. */
  baseDir?: string;
}

/** A file named in the config, checked by loadProbeConfig. */
interface FileRef {
  at: Place;
  file: string;
  pem: boolean;
}

/**
 * Reads and validates the probe config; without a path, the embedded defaults. Relative paths in
 * the file are resolved against its directory, and the files they name must be readable (CA files
 * must hold PEM certificates). Throws ConfigErrors listing every problem found.
 */
export async function loadProbeConfig(file?: string): Promise<ProbeConfig> {
  if (file === undefined) return defaultProbeConfig();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw unreadable(file, err);
  }
  const { src, config, files } = read(text, file, { baseDir: path.dirname(path.resolve(file)) });
  for (const ref of files) await checkFile(src, ref);
  return validated(src, config);
}

/** Validates probe-config text; an empty file (or only comments) gives the defaults. */
export function parseProbeConfig(text: string, file: string, options: ParseOptions = {}): ProbeConfig {
  const { src, config } = read(text, file, options);
  return validated(src, config);
}

/** The target file a config points at: its targets_file, else the packaged targets.yaml. */
export function targetsFileOf(config: ProbeConfig): string {
  return config.targets_file ?? packagedTargetsPath();
}

/**
 * The daemon's state directory: the config's state_dir, else the one systemd made for the unit
 * ($STATE_DIRECTORY), else ./var/probe under the working directory (a checkout).
 */
export function stateDirOf(config: ProbeConfig, env: Record<string, string | undefined> = process.env): string {
  if (config.state_dir !== null) return path.resolve(config.state_dir);
  const systemd = env['STATE_DIRECTORY']?.split(':')[0];
  return path.resolve(systemd !== undefined && systemd !== '' ? systemd : path.join('var', 'probe'));
}

/** The config as YAML that parseProbeConfig reads back to the same object. */
export function formatProbeConfig(config: ProbeConfig): string {
  const m = config.measure;
  const q = (s: string | null) => (s === null ? 'null' : JSON.stringify(s));
  return [
    'probe:',
    `  asn: ${config.probe.asn ?? 'null'}`,
    `  cc: ${q(config.probe.cc)}`,
    `  network: ${q(config.probe.network)}`,
    'measure:',
    `  timeout_ms: ${m.timeout_ms}`,
    `  dns_listen_window_ms: ${m.dns_listen_window_ms}`,
    `  concurrency: ${m.concurrency}`,
    `  per_host_concurrency: ${m.per_host_concurrency}`,
    `  neutral_sni: ${q(m.neutral_sni)}`,
    `  resolvers: [${m.resolvers.map((r) => JSON.stringify(resolverText(r))).join(', ')}]`,
    `  control_doh: ${q(m.control_doh)}`,
    `  extra_ca_files: [${m.extra_ca_files.map((f) => JSON.stringify(f)).join(', ')}]`,
    `  qtypes: [${m.qtypes.join(', ')}]`,
    `  page_max_kb: ${m.page_max_kb}`,
    `  bulk_max_kb: ${m.bulk_max_kb}`,
    `  bulk_max_ms: ${m.bulk_max_ms}`,
    `  bulk_every_runs: ${m.bulk_every_runs}`,
    `  throttle_ratio: ${m.throttle_ratio}`,
    `  throttle_max_kb_per_s: ${m.throttle_max_kb_per_s}`,
    `  throttle_handshake_ms: ${m.throttle_handshake_ms}`,
    `  throttle_canary_handshake_ms: ${m.throttle_canary_handshake_ms}`,
    `targets_file: ${q(config.targets_file)}`,
    `state_dir: ${q(config.state_dir)}`,
    ...formatCollector(config.collector),
    'schedule:',
    ...Object.entries(config.schedule).map(([k, v]) => `  ${k}: ${v}`),
    'spool:',
    `  cap_mb: ${config.spool.cap_mb}`,
    'upload:',
    ...Object.entries(config.upload).map(([k, v]) => `  ${k}: ${v}`),
    '',
  ].join('\n');
}

function formatCollector(c: CollectorSettings | null): string[] {
  const q = (s: string | null) => (s === null ? 'null' : JSON.stringify(s));
  if (c === null) return ['collector: null'];
  return [
    'collector:',
    `  url: ${q(c.url)}`,
    `  pin_spki_sha256: [${c.pin_spki_sha256.map((p) => JSON.stringify(p)).join(', ')}]`,
    `  enrollment_token: ${q(c.enrollment_token)}`,
    `  proxy: ${q(c.proxy)}`,
    `  control_max_age_minutes: ${c.control_max_age_minutes}`,
  ];
}

/** The config once every problem has been thrown; a config missing without a reported problem is a bug. */
function validated(src: YamlSource, config: ProbeConfig | undefined): ProbeConfig {
  src.throwIfProblems();
  if (config === undefined) throw new InvalidArgumentError(`${src.file}: config rejected without a reported problem`);
  return config;
}

function read(text: string, file: string, options: ParseOptions) {
  const src = YamlSource.parse(text, file);
  const files: FileRef[] = [];
  const config = src.wellFormed ? readConfig(src.root, options, files) : undefined;
  return { src, config, files };
}

function readConfig(root: YamlValue, options: ParseOptions, files: FileRef[]): ProbeConfig | undefined {
  const defaults = defaultProbeConfig();
  if (root.isNull) return defaults;
  const top = root.map(TOP_KEYS);
  if (!top) return undefined;

  const probeValue = top.get('probe');
  const probe = probeValue === undefined || probeValue.isNull ? defaults.probe : readProbe(probeValue);
  const measureValue = top.get('measure');
  const measure = measureValue === undefined || measureValue.isNull ? defaults.measure : readMeasure(measureValue, options, files);
  const targetsFile = top.optional('targets_file', null, (v) => {
    const f = v.string('a file path');
    if (f === undefined) return undefined;
    const resolved = resolvePath(f, options);
    files.push({ at: v, file: resolved, pem: false });
    return resolved;
  });
  const stateDir = top.optional('state_dir', null, (v) => {
    const d = v.string('a directory path');
    return d === undefined ? undefined : resolvePath(d, options);
  });
  const collectorValue = top.get('collector');
  const collector = collectorValue === undefined || collectorValue.isNull ? null : readCollector(collectorValue);
  const schedule = section(top.get('schedule'), SCHEDULE_KEYS, defaults.schedule, readSchedule);
  const spool = section(top.get('spool'), SPOOL_KEYS, defaults.spool, readSpool);
  const upload = section(top.get('upload'), UPLOAD_KEYS, defaults.upload, readUpload);
  if (probe === undefined || measure === undefined || targetsFile === undefined) return undefined;
  if (stateDir === undefined || collector === undefined || schedule === undefined || spool === undefined || upload === undefined) {
    return undefined;
  }
  return { probe, measure, targets_file: targetsFile, state_dir: stateDir, collector, schedule, spool, upload };
}

/** An optional section of closed keys: absent or null gives its defaults, otherwise `read` decides. */
function section<T>(v: YamlValue | undefined, keys: readonly string[], fallback: T, read: (m: YamlMap) => T | undefined): T | undefined {
  if (v === undefined || v.isNull) return fallback;
  const m = v.map(keys);
  return m ? read(m) : undefined;
}

function readProbe(v: YamlValue): ProbeNetwork | undefined {
  const m = v.map(PROBE_KEYS);
  if (!m) return undefined;
  const asn = m.optional('asn', null, (a) => a.integer(...LIMITS.asn));
  const cc = m.optional('cc', null, (c) =>
    c.stringWhere('an ISO 3166 alpha-2 country code in upper case, e.g. KZ', (s) => /^[A-Z]{2}$/.test(s)),
  );
  const network = m.optional('network', null, (n) =>
    n.stringWhere('a network name of 1..100 characters', (s) => s.trim().length > 0 && s.length <= 100 && !/[\u0000-\u001f]/.test(s)),
  );
  if (asn === undefined || cc === undefined || network === undefined) return undefined;
  return { asn, cc, network };
}

function readMeasure(v: YamlValue, options: ParseOptions, files: FileRef[]): MeasureSettings | undefined {
  const d = DEFAULT_PROBE_CONFIG.measure;
  const m = v.map(MEASURE_KEYS);
  if (!m) return undefined;
  const timeout = m.optional('timeout_ms', d.timeout_ms, (x) => x.integer(...LIMITS.timeout_ms));
  const window = m.optional('dns_listen_window_ms', d.dns_listen_window_ms, (x) => x.integer(...LIMITS.dns_listen_window_ms));
  const concurrency = m.optional('concurrency', d.concurrency, (x) => x.integer(...LIMITS.concurrency));
  const perHost = m.optional('per_host_concurrency', d.per_host_concurrency, (x) => x.integer(...LIMITS.per_host_concurrency));
  const neutralSni = m.optional('neutral_sni', d.neutral_sni, (x) => x.stringWhere('a lower-case hostname', isHostname));
  const resolvers = m.optional('resolvers', structuredClone(d.resolvers) as ResolverSpec[], (x) => {
    const list = x.listOf(readResolver, resolverName);
    if (list !== undefined && list.length === 0) return x.fail(`expected at least one resolver (${RESOLVER_FORMS})`);
    // A resolver given by an address that is not a public resolver's is archived under a label, not its address.
    return list === undefined ? undefined : labelOwnResolvers(list);
  });
  const controlDoh = m.optional('control_doh', null, (x) => {
    const url = x.string('an https URL');
    return url === undefined ? undefined : checked(x, () => checkDohUrl(url));
  });
  const caFiles = m.optional('extra_ca_files', [] as string[], (x) =>
    x.listOf((item) => {
      const f = item.string('a file path');
      if (f === undefined) return undefined;
      const resolved = resolvePath(f, options);
      files.push({ at: item, file: resolved, pem: true });
      return resolved;
    }),
  );
  const qtypes = m.optional('qtypes', [...d.qtypes], (x) => {
    const list = x.listOf((q) => q.oneOf(QTYPES));
    if (list !== undefined && list.length === 0) return x.fail('expected at least one query type');
    return list;
  });

  const int = (key: 'page_max_kb' | 'bulk_max_kb' | 'bulk_max_ms' | 'bulk_every_runs' | 'throttle_max_kb_per_s' | 'throttle_handshake_ms' | 'throttle_canary_handshake_ms') => {
    const [min, max] = LIMITS[key];
    return m.optional(key, d[key], (x) => x.integer(min, max));
  };
  const pageMaxKb = int('page_max_kb');
  const bulkMaxKb = int('bulk_max_kb');
  const bulkMaxMs = int('bulk_max_ms');
  const bulkEvery = int('bulk_every_runs');
  const throttleRatio = m.optional('throttle_ratio', d.throttle_ratio, (x) => {
    const n = x.scalar;
    return typeof n === 'number' && n > 0 && n < 1 ? n : x.expected('a fraction between 0 and 1 (exclusive), e.g. 0.1');
  });
  const throttleRate = int('throttle_max_kb_per_s');
  const throttleHandshake = int('throttle_handshake_ms');
  const throttleCanaryHandshake = int('throttle_canary_handshake_ms');

  // Relations between settings, reported at the setting that breaks them.
  if (throttleHandshake !== undefined && throttleCanaryHandshake !== undefined && throttleCanaryHandshake >= throttleHandshake) {
    (m.get('throttle_canary_handshake_ms') ?? m.get('throttle_handshake_ms'))?.fail(
      `throttle_canary_handshake_ms (${throttleCanaryHandshake}) must be below throttle_handshake_ms (${throttleHandshake})`,
    );
  }
  if (window !== undefined && timeout !== undefined && window >= timeout) {
    (m.get('dns_listen_window_ms') ?? m.get('timeout_ms'))?.fail(
      `the DNS listening window (${window} ms) must be shorter than timeout_ms (${timeout} ms)`,
    );
  }
  if (perHost !== undefined && concurrency !== undefined && perHost > concurrency) {
    (m.get('per_host_concurrency') ?? m.get('concurrency'))?.fail(
      `per_host_concurrency (${perHost}) must not exceed concurrency (${concurrency})`,
    );
  }

  if (
    timeout === undefined ||
    window === undefined ||
    concurrency === undefined ||
    perHost === undefined ||
    neutralSni === undefined ||
    resolvers === undefined ||
    controlDoh === undefined ||
    caFiles === undefined ||
    qtypes === undefined ||
    pageMaxKb === undefined ||
    bulkMaxKb === undefined ||
    bulkMaxMs === undefined ||
    bulkEvery === undefined ||
    throttleRatio === undefined ||
    throttleRate === undefined ||
    throttleHandshake === undefined ||
    throttleCanaryHandshake === undefined
  ) {
    return undefined;
  }
  return {
    timeout_ms: timeout,
    dns_listen_window_ms: window,
    concurrency,
    per_host_concurrency: perHost,
    neutral_sni: neutralSni,
    resolvers,
    control_doh: controlDoh,
    extra_ca_files: caFiles,
    qtypes,
    page_max_kb: pageMaxKb,
    bulk_max_kb: bulkMaxKb,
    bulk_max_ms: bulkMaxMs,
    bulk_every_runs: bulkEvery,
    throttle_ratio: throttleRatio,
    throttle_max_kb_per_s: throttleRate,
    throttle_handshake_ms: throttleHandshake,
    throttle_canary_handshake_ms: throttleCanaryHandshake,
  };
}

/** A resolver as the config writes it: by address (its label is only how the evidence names it). */
function resolverText(spec: ResolverSpec): string {
  if (spec.kind !== 'udp' || spec.label === undefined) return resolverName(spec);
  const { label: _label, ...bare } = spec;
  return resolverName(bare);
}

function readResolver(v: YamlValue): ResolverSpec | undefined {
  const text = v.string(`a resolver string (${RESOLVER_FORMS})`);
  return text === undefined ? undefined : checked(v, () => parseResolver(text));
}

/** Runs a check that throws InvalidArgumentError and reports its message at `v`. */
function checked<T>(v: YamlValue, check: () => T): T | undefined {
  try {
    return check();
  } catch (err) {
    if (err instanceof InvalidArgumentError) return v.fail(err.message);
    throw err;
  }
}

function resolvePath(file: string, options: ParseOptions): string {
  return options.baseDir === undefined ? file : path.resolve(options.baseDir, file);
}

async function checkFile(src: YamlSource, ref: FileRef): Promise<void> {
  let text: string;
  try {
    text = await readFile(ref.file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    src.report(ref.at, `cannot read ${JSON.stringify(ref.file)} (${typeof code === 'string' ? code : String(err)})`);
    return;
  }
  if (ref.pem && !text.includes('-----BEGIN CERTIFICATE-----')) {
    src.report(ref.at, `${JSON.stringify(ref.file)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
}
