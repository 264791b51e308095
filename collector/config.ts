// The collector's configuration: embedded defaults, a YAML file validated at load (file:line), env overrides.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { ConfigError, ConfigErrors } from '../common/errors.js';

export interface Limits {
  /** Largest request body accepted (the gzip bytes of a batch), bytes. */
  max_body_bytes: number;
  /** Largest decompressed batch JSON, bytes (guards against gzip bombs). */
  max_json_bytes: number;
  /** Most measurements in one batch. */
  max_batch_items: number;
  /** Oldest accepted started_at, seconds before the collector's clock. */
  max_age_s: number;
  /** Furthest accepted started_at, seconds after the collector's clock. */
  max_future_s: number;
  /** Allowed distance between x-ashyq-timestamp and the collector's clock, seconds. */
  signature_skew_s: number;
  /** Per-probe token bucket for batch uploads. */
  rate_per_probe: { per_minute: number; burst: number };
}

export interface InfluxConfig {
  url: string;
  token: string;
  org: string;
  bucket: string;
}

export interface EventsConfig {
  /** The probes' measuring interval, minutes: onset and end are reported within two of them. */
  interval_minutes: number;
  /** Distinct probes that must see a blocking before it is an event (one probe alone only persistently, with healthy canaries). */
  min_probes: number;
  /** Distinct hours a probe must have measured in before it counts toward events. */
  min_probe_history_hours: number;
  /** POSTed every revision of an event (opened, changed, closed), signed with HMAC-SHA256 of the secret. */
  webhook: { url: string; secret: string } | null;
  /** While an event is open, probes on its networks are asked to measure its targets every this many minutes (0: never). */
  surge_every_minutes: number;
}

export const DEFAULT_EVENTS: EventsConfig = {
  interval_minutes: 60,
  min_probes: 2,
  min_probe_history_hours: 6,
  webhook: null,
  surge_every_minutes: 10,
};

/**
 * The control vantage: the collector measures every target itself, from where it runs (outside the
 * censor), with the probe's engine, so that a failure the control shares is `down`, not blocking.
 * Off by default: it is for a collector deployed outside the censored country.
 */
export interface ControlConfig {
  enabled: boolean;
  /** Every target of the list, every this many minutes (close to the probes' interval). */
  interval_minutes: number;
  /** A probe's measurement is judged with the control nearest in time within this many minutes. */
  window_minutes: number;
  /** Where the control measures from (shown beside its measurements): its network's ASN and country. */
  asn: number | null;
  cc: string | null;
  /**
   * Tokens that enroll a probe with the control role (a probe run in an uncensored country): its
   * measurements are control evidence, archived with the control's, never counted as a network's.
   */
  enrollment_tokens: string[];
}

export const DEFAULT_CONTROL: ControlConfig = { enabled: false, interval_minutes: 60, window_minutes: 90, asn: null, cc: null, enrollment_tokens: [] };

export interface CollectorConfig {
  /** Where the archive, the store and the generated enrollment token live. */
  data_dir: string;
  listen: { host: string; port: number };
  /**
   * PEM files; when set the API is served over HTTPS. `tls: auto` in the file gives <data_dir>/tls/cert.pem
   * and key.pem with `auto: true`: the collector makes them at first start and keeps them (collector/tls-auto.ts).
   */
  tls: { cert: string; key: string; auto?: boolean } | null;
  /** Take the client address from X-Forwarded-For (behind a reverse proxy). */
  trust_proxy: boolean;
  enrollment_tokens: string[];
  /** The targets file; null = the collector accepts no target (every measurement is rejected as unknown_target). */
  targets_file: string | null;
  limits: Limits;
  /** Time-series output; null = embedded store only. */
  influx: InfluxConfig | null;
  /** IP → ASN/country CSV files; null = the databases bundled as npm packages. */
  ip_db: { asn: string[]; country: string[] } | null;
  /** The blocking-event detector. */
  events: EventsConfig;
  /** The collector's own control measurements (absent in configs built before it: off). */
  control?: ControlConfig;
  /** Where monthly reports are written (a folder YYYY-MM/ with report.html each), served read-only; absent or null = none. */
  reports_dir?: string | null;
}

export const DEFAULT_LIMITS: Limits = {
  max_body_bytes: 4 * 1024 * 1024,
  max_json_bytes: 32 * 1024 * 1024,
  max_batch_items: 1000,
  max_age_s: 14 * 24 * 3600,
  max_future_s: 600,
  signature_skew_s: 300,
  rate_per_probe: { per_minute: 60, burst: 30 },
};

type Env = Record<string, string | undefined>;

/** The embedded default: ./var/collector, 127.0.0.1:8480, tokens and InfluxDB from the environment. */
export function defaultCollectorConfig(env: Env = process.env): CollectorConfig {
  return applyEnv(
    {
      data_dir: path.resolve('var/collector'),
      listen: { host: '127.0.0.1', port: 8480 },
      tls: null,
      trust_proxy: false,
      enrollment_tokens: [],
      targets_file: null,
      limits: structuredClone(DEFAULT_LIMITS),
      influx: null,
      ip_db: null,
      events: structuredClone(DEFAULT_EVENTS),
      control: structuredClone(DEFAULT_CONTROL),
    },
    env,
    '(environment)',
  );
}

/** How every value of deploy/collector.env.example begins: a secret still starting so was never set. */
export const PLACEHOLDER_PREFIX = 'replace-with-';

/** The secrets the collector reads from the environment, with the variable of deploy/collector.env that docker-compose.yml passes as each. */
const ENV_SECRETS: ReadonlyArray<readonly [variable: string, envFileVariable: string]> = [
  ['ASHYQ_ENROLLMENT_TOKEN', 'ASHYQ_ENROLLMENT_TOKEN'],
  ['ASHYQ_INFLUX_TOKEN', 'INFLUX_TOKEN'],
];

/** The subdirectory of the data dir where `tls: auto` keeps its certificate and key. */
export const AUTO_TLS_DIR = 'tls';

/** The files of `tls: auto` for a data dir. */
export function autoTlsFiles(dataDir: string): { cert: string; key: string; auto: true } {
  return { cert: path.join(dataDir, AUTO_TLS_DIR, 'cert.pem'), key: path.join(dataDir, AUTO_TLS_DIR, 'key.pem'), auto: true };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** ASHYQ_ENROLLMENT_TOKEN adds a token; ASHYQ_INFLUX_URL/TOKEN/ORG/BUCKET override the influx block. */
function applyEnv(config: CollectorConfig, env: Env, file: string): CollectorConfig {
  for (const [variable, envFileVariable] of ENV_SECRETS) {
    if (env[variable]?.trim().startsWith(PLACEHOLDER_PREFIX)) {
      const where = envFileVariable === variable ? variable : `${envFileVariable} (passed as ${variable})`;
      throw new ConfigError('(environment)', undefined, variable, `still the placeholder of deploy/collector.env.example (${PLACEHOLDER_PREFIX}…): set ${where} in deploy/collector.env to a long random value (e.g. from \`openssl rand -base64 32\`) and start again`);
    }
  }
  const token = nonEmpty(env['ASHYQ_ENROLLMENT_TOKEN']);
  if (token !== undefined && !config.enrollment_tokens.includes(token)) config.enrollment_tokens.push(token);
  const url = nonEmpty(env['ASHYQ_INFLUX_URL']);
  const influxToken = env['ASHYQ_INFLUX_TOKEN'];
  const org = env['ASHYQ_INFLUX_ORG'];
  const bucket = nonEmpty(env['ASHYQ_INFLUX_BUCKET']);
  if (url !== undefined || influxToken !== undefined || org !== undefined || bucket !== undefined) {
    const merged = {
      url: url ?? config.influx?.url,
      token: influxToken ?? config.influx?.token ?? '',
      org: org ?? config.influx?.org ?? '',
      bucket: bucket ?? config.influx?.bucket,
    };
    if (merged.url === undefined || merged.bucket === undefined) {
      throw new ConfigError(file, undefined, 'influx', 'ASHYQ_INFLUX_URL and ASHYQ_INFLUX_BUCKET (or influx.url and influx.bucket) are both needed');
    }
    config.influx = { url: merged.url, token: merged.token, org: merged.org, bucket: merged.bucket };
  }
  return config;
}

/** Walks the YAML tree, collecting every problem with its line. */
class Reader {
  readonly errors: ConfigError[] = [];
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  line(node: Node | null | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.lines.linePos(offset).line;
  }

  error(node: Node | null | undefined, key: string | undefined, problem: string): void {
    this.errors.push(new ConfigError(this.file, this.line(node), key, problem));
  }

  /** The entries of a mapping, with unknown keys reported. */
  map(node: unknown, key: string, allowed: readonly string[]): Map<string, Node> | undefined {
    if (!isMap(node)) {
      this.error(node as Node, key, 'expected a mapping');
      return undefined;
    }
    const out = new Map<string, Node>();
    for (const pair of node.items) {
      const keyNode = pair.key as Node;
      const name = isScalar(keyNode) ? String(keyNode.value) : undefined;
      const full = key === '' ? name : `${key}.${name}`;
      if (name === undefined || !allowed.includes(name)) {
        this.error(keyNode, full ?? key, `unknown key (allowed: ${allowed.join(', ')})`);
        continue;
      }
      if (out.has(name)) {
        this.error(keyNode, full, 'duplicate key');
        continue;
      }
      out.set(name, (pair.value ?? null) as Node);
    }
    return out;
  }

  string(node: Node | undefined, key: string): string | undefined {
    if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') return node.value;
    this.error(node, key, 'expected a non-empty string');
    return undefined;
  }

  int(node: Node | undefined, key: string, min: number, max: number): number | undefined {
    if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value) && node.value >= min && node.value <= max) {
      return node.value;
    }
    this.error(node, key, `expected an integer from ${min} to ${max}`);
    return undefined;
  }

  bool(node: Node | undefined, key: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.error(node, key, 'expected true or false');
    return undefined;
  }

  strings(node: Node | undefined, key: string): string[] | undefined {
    if (!isSeq(node)) {
      this.error(node, key, 'expected a list of strings');
      return undefined;
    }
    const out: string[] = [];
    node.items.forEach((item, i) => {
      const value = this.string(item as Node, `${key}[${i}]`);
      if (value !== undefined) out.push(value);
    });
    return out;
  }
}

const TOP_KEYS = ['data_dir', 'listen', 'tls', 'trust_proxy', 'enrollment_tokens', 'targets_file', 'limits', 'influx', 'ip_db', 'events', 'control', 'reports_dir'] as const;
const CONTROL_KEYS = ['enabled', 'interval_minutes', 'window_minutes', 'asn', 'cc', 'enrollment_tokens'] as const;
const EVENT_KEYS = ['interval_minutes', 'min_probes', 'min_probe_history_hours', 'webhook', 'surge_every_minutes'] as const;
const LIMIT_KEYS = ['max_body_bytes', 'max_json_bytes', 'max_batch_items', 'max_age_s', 'max_future_s', 'signature_skew_s', 'rate_per_probe'] as const;

/** Parse and validate a collector config text; relative paths are resolved against `baseDir`. */
export function parseCollectorConfig(text: string, file: string, baseDir: string, env: Env = process.env): CollectorConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const reader = new Reader(file, lines);
  for (const err of doc.errors) {
    reader.errors.push(new ConfigError(file, lines.linePos(err.pos[0]).line, undefined, err.message.split('\n')[0] ?? 'YAML syntax error'));
  }
  const config = defaultCollectorConfig({});
  const resolvePath = (p: string) => path.resolve(baseDir, p);
  /** control.enrollment_tokens as written (checked against the probes' tokens once both are read). */
  let controlTokens: Node | undefined;
  const tokenItem = (node: Node | undefined, i: number): Node | undefined => (node as { items?: Node[] } | undefined)?.items?.[i];
  /** `tls: auto`: its files are in the data dir, known once every key is read. */
  let tlsAuto = false;

  if (reader.errors.length === 0 && doc.contents !== null) {
    const top = reader.map(doc.contents, '', TOP_KEYS);
    if (top) {
      for (const [key, node] of top) {
        switch (key) {
          case 'data_dir': {
            const v = reader.string(node, key);
            if (v !== undefined) config.data_dir = resolvePath(v);
            break;
          }
          case 'listen': {
            const m = reader.map(node, key, ['host', 'port']);
            const host = m?.has('host') ? reader.string(m.get('host'), 'listen.host') : undefined;
            const port = m?.has('port') ? reader.int(m.get('port'), 'listen.port', 0, 65_535) : undefined;
            if (host !== undefined) config.listen.host = host;
            if (port !== undefined) config.listen.port = port;
            break;
          }
          case 'tls': {
            if (isScalar(node) && node.value === null) break;
            if (isScalar(node) && node.value === 'auto') {
              tlsAuto = true;
              break;
            }
            if (isScalar(node)) {
              reader.error(node, key, `expected auto (a self-signed certificate the collector makes in data_dir/${AUTO_TLS_DIR}) or a mapping with cert and key, got ${JSON.stringify(node.value)}`);
              break;
            }
            const autoKey = isMap(node) ? node.items.find((pair) => isScalar(pair.key) && pair.key.value === 'auto') : undefined;
            if (autoKey !== undefined) {
              reader.error(autoKey.key as Node, 'tls.auto', 'write `tls: auto` on its own (the certificate and key are then made in data_dir/tls), or give cert and key');
              break;
            }
            const m = reader.map(node, key, ['cert', 'key']);
            if (!m) break;
            if (!m.has('cert') || !m.has('key')) {
              reader.error(node, key, 'needs both cert and key');
              break;
            }
            const cert = reader.string(m.get('cert'), 'tls.cert');
            const tlsKey = reader.string(m.get('key'), 'tls.key');
            if (cert !== undefined && tlsKey !== undefined) config.tls = { cert: resolvePath(cert), key: resolvePath(tlsKey) };
            break;
          }
          case 'trust_proxy': {
            const v = reader.bool(node, key);
            if (v !== undefined) config.trust_proxy = v;
            break;
          }
          case 'enrollment_tokens': {
            const v = reader.strings(node, key);
            if (v !== undefined) {
              for (const [i, token] of v.entries()) {
                if (token.length < 16) reader.error(tokenItem(node, i), `${key}[${i}]`, 'a token must have at least 16 characters');
              }
              config.enrollment_tokens = v;
            }
            break;
          }
          case 'targets_file': {
            const v = reader.string(node, key);
            if (v !== undefined) config.targets_file = resolvePath(v);
            break;
          }
          case 'limits': {
            const m = reader.map(node, key, LIMIT_KEYS);
            if (!m) break;
            const limits = config.limits;
            const intLimit = (name: 'max_body_bytes' | 'max_json_bytes' | 'max_batch_items' | 'max_age_s' | 'max_future_s' | 'signature_skew_s', min: number, max: number) => {
              if (!m.has(name)) return;
              const v = reader.int(m.get(name), `limits.${name}`, min, max);
              if (v !== undefined) limits[name] = v;
            };
            intLimit('max_body_bytes', 1024, 1024 * 1024 * 1024);
            intLimit('max_json_bytes', 1024, 4 * 1024 * 1024 * 1024);
            intLimit('max_batch_items', 1, 1_000_000);
            intLimit('max_age_s', 60, 10 * 366 * 24 * 3600);
            intLimit('max_future_s', 0, 7 * 24 * 3600);
            intLimit('signature_skew_s', 1, 24 * 3600);
            if (m.has('rate_per_probe')) {
              const r = reader.map(m.get('rate_per_probe'), 'limits.rate_per_probe', ['per_minute', 'burst']);
              if (r?.has('per_minute')) {
                const v = reader.int(r.get('per_minute'), 'limits.rate_per_probe.per_minute', 1, 1_000_000);
                if (v !== undefined) limits.rate_per_probe.per_minute = v;
              }
              if (r?.has('burst')) {
                const v = reader.int(r.get('burst'), 'limits.rate_per_probe.burst', 1, 1_000_000);
                if (v !== undefined) limits.rate_per_probe.burst = v;
              }
            }
            break;
          }
          case 'influx': {
            if (isScalar(node) && node.value === null) break;
            const m = reader.map(node, key, ['url', 'token', 'org', 'bucket']);
            if (!m) break;
            const get = (name: string, required: boolean): string | undefined => {
              if (!m.has(name)) {
                if (required) reader.error(node, `influx.${name}`, 'missing');
                return undefined;
              }
              const n = m.get(name);
              if (!required && isScalar(n) && n.value === '') return '';
              return reader.string(n, `influx.${name}`);
            };
            const url = get('url', true);
            const bucket = get('bucket', true);
            const token = get('token', false) ?? '';
            const org = get('org', false) ?? '';
            if (url !== undefined) {
              try {
                const u = new URL(url);
                if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
              } catch {
                reader.error(m.get('url'), 'influx.url', 'expected an http(s) URL');
              }
            }
            if (url !== undefined && bucket !== undefined) config.influx = { url, token, org, bucket };
            break;
          }
          case 'events': {
            const m = reader.map(node, key, EVENT_KEYS);
            if (!m) break;
            const events = config.events;
            const intEvent = (name: 'interval_minutes' | 'min_probes' | 'min_probe_history_hours' | 'surge_every_minutes', min: number, max: number) => {
              if (!m.has(name)) return;
              const v = reader.int(m.get(name), `events.${name}`, min, max);
              if (v !== undefined) events[name] = v;
            };
            intEvent('interval_minutes', 1, 1440);
            intEvent('min_probes', 1, 1000);
            intEvent('min_probe_history_hours', 0, 24 * 366);
            intEvent('surge_every_minutes', 0, 1440);
            const hook = m.get('webhook');
            if (hook !== undefined && !(isScalar(hook) && hook.value === null)) {
              const w = reader.map(hook, 'events.webhook', ['url', 'secret']);
              if (!w) break;
              const url = w.has('url') ? reader.string(w.get('url'), 'events.webhook.url') : (reader.error(hook, 'events.webhook.url', 'missing'), undefined);
              const secret = w.has('secret') ? reader.string(w.get('secret'), 'events.webhook.secret') : (reader.error(hook, 'events.webhook.secret', 'missing'), undefined);
              if (url !== undefined) {
                try {
                  const u = new URL(url);
                  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
                } catch {
                  reader.error(w.get('url'), 'events.webhook.url', 'expected an http(s) URL');
                }
              }
              if (secret !== undefined && secret.length < 16) reader.error(w.get('secret'), 'events.webhook.secret', 'a secret must have at least 16 characters');
              if (url !== undefined && secret !== undefined) events.webhook = { url, secret };
            }
            break;
          }
          case 'control': {
            const m = reader.map(node, key, CONTROL_KEYS);
            if (!m) break;
            const control = (config.control ??= structuredClone(DEFAULT_CONTROL));
            if (m.has('enabled')) {
              const v = reader.bool(m.get('enabled'), 'control.enabled');
              if (v !== undefined) control.enabled = v;
            }
            for (const [name, min, max] of [['interval_minutes', 1, 1440], ['window_minutes', 1, 24 * 60]] as const) {
              if (!m.has(name)) continue;
              const v = reader.int(m.get(name), `control.${name}`, min, max);
              if (v !== undefined) control[name] = v;
            }
            const asn = m.get('asn');
            if (asn !== undefined && !(isScalar(asn) && asn.value === null)) {
              const v = reader.int(asn, 'control.asn', 0, 4_294_967_295);
              if (v !== undefined) control.asn = v;
            }
            const cc = m.get('cc');
            if (cc !== undefined && !(isScalar(cc) && cc.value === null)) {
              const v = reader.string(cc, 'control.cc');
              if (v !== undefined && !/^[A-Z]{2}$/.test(v)) reader.error(cc, 'control.cc', 'expected an ISO 3166-1 alpha-2 code such as DE');
              else if (v !== undefined) control.cc = v;
            }
            if (m.has('enrollment_tokens')) {
              controlTokens = m.get('enrollment_tokens');
              const v = reader.strings(controlTokens, 'control.enrollment_tokens');
              if (v !== undefined) {
                for (const [i, token] of v.entries()) {
                  if (token.length < 16) reader.error(tokenItem(controlTokens, i), `control.enrollment_tokens[${i}]`, 'a token must have at least 16 characters');
                }
                control.enrollment_tokens = v;
              }
            }
            break;
          }
          case 'reports_dir': {
            if (isScalar(node) && node.value === null) break;
            const v = reader.string(node, key);
            if (v !== undefined) config.reports_dir = resolvePath(v);
            break;
          }
          case 'ip_db': {
            if (isScalar(node) && node.value === null) break;
            const m = reader.map(node, key, ['asn', 'country']);
            if (!m) break;
            const asn = m.has('asn') ? reader.strings(m.get('asn'), 'ip_db.asn') : [];
            const country = m.has('country') ? reader.strings(m.get('country'), 'ip_db.country') : [];
            if (asn !== undefined && country !== undefined) config.ip_db = { asn: asn.map(resolvePath), country: country.map(resolvePath) };
            break;
          }
        }
      }
    }
  }
  for (const [i, token] of (config.control?.enrollment_tokens ?? []).entries()) {
    if (config.enrollment_tokens.includes(token)) {
      reader.error(tokenItem(controlTokens, i), `control.enrollment_tokens[${i}]`, 'is also in enrollment_tokens: a token enrolls either probes of the measured networks or controls, not both');
    }
  }
  if (tlsAuto) config.tls = autoTlsFiles(config.data_dir);
  reader.errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (reader.errors.length === 1) throw reader.errors[0];
  if (reader.errors.length > 1) throw new ConfigErrors(reader.errors);
  return applyEnv(config, env, file);
}

/** Load the config file (or the embedded default when `file` is undefined), then apply the environment. */
export async function loadCollectorConfig(file: string | undefined, env: Env = process.env): Promise<CollectorConfig> {
  if (file === undefined) return defaultCollectorConfig(env);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, undefined, undefined, `cannot read: ${(err as Error).message}`);
  }
  return parseCollectorConfig(text, file, path.dirname(path.resolve(file)), env);
}
