// The daemon's sections of the probe config (state_dir, collector, schedule, spool, upload): types, defaults and readers.
import net from 'node:net';
import type { YamlMap, YamlValue } from '../../common/yaml-source.js';
import { SURGE_DEFAULT_LIMITS } from '../../contract/wire.js';

/** Where and how the probe uploads; absent from the config: the daemon only measures and spools. */
export interface CollectorSettings {
  /** Base URL of the collector (https, or http to a loopback address), without a trailing slash. */
  url: string;
  /** SHA-256 of the collector's SubjectPublicKeyInfo, base64; any one must match. Empty only for http. */
  pin_spki_sha256: string[];
  /** Used once, to register the probe at first start. */
  enrollment_token: string | null;
  /** Upload through this proxy: http://host:port, https://host:port or socks5://host:port. */
  proxy: string | null;
  /** The collector's control evidence is used only when measured at most this long before a run starts. */
  control_max_age_minutes: number;
}

export interface ScheduleSettings {
  interval_minutes: number;
  /** Each run starts up to ±jitter_fraction·interval from its nominal time. */
  jitter_fraction: number;
  /** The fastest a collector's surge may make this probe measure (default: 10, or interval_minutes when that is lower). */
  surge_min_interval_minutes: number;
  /** The longest a surge is followed (0: surges are ignored). */
  surge_max_hours: number;
  /** Monthly cap on the bytes the runs send and receive, MB (0: none): bulk reads stop when ahead of pace, runs when spent. */
  data_budget_mb: number;
}

export interface SpoolSettings {
  /** Disk cap of the spool; when full the oldest measurements are dropped (counted and reported). */
  cap_mb: number;
}

export interface UploadSettings {
  batch_size: number;
  backoff_base_s: number;
  backoff_cap_s: number;
}

/** Limits of the daemon's numeric settings (inclusive). */
export const DAEMON_LIMITS = {
  interval_minutes: [1, 1440],
  jitter_fraction: [0, 0.5],
  surge_min_interval_minutes: [1, 1440],
  surge_max_hours: [0, 168],
  data_budget_mb: [0, 1_000_000],
  cap_mb: [1, 100_000],
  batch_size: [1, 1000],
  backoff_base_s: [1, 3600],
  backoff_cap_s: [1, 86_400],
} as const;

export const DAEMON_DEFAULTS = {
  schedule: { interval_minutes: 60, jitter_fraction: 0.1, ...SURGE_DEFAULT_LIMITS, data_budget_mb: 0 },
  spool: { cap_mb: 50 },
  upload: { batch_size: 100, backoff_base_s: 5, backoff_cap_s: 3600 },
} as const;

export const COLLECTOR_KEYS = ['url', 'pin_spki_sha256', 'enrollment_token', 'proxy', 'control_max_age_minutes'] as const;
/** Default and bounds of collector.control_max_age_minutes: 3 h; at most a day (an older control says nothing about today). */
export const CONTROL_MAX_AGE = { default: 180, min: 5, max: 1440 } as const;
export const SCHEDULE_KEYS = ['interval_minutes', 'jitter_fraction', 'surge_min_interval_minutes', 'surge_max_hours', 'data_budget_mb'] as const;
export const SPOOL_KEYS = ['cap_mb'] as const;
export const UPLOAD_KEYS = ['batch_size', 'backoff_base_s', 'backoff_cap_s'] as const;

const PROXY_PROTOCOLS = ['http:', 'https:', 'socks5:'];

/** A finite number in [min, max] (integers included). */
function number(v: YamlValue, min: number, max: number): number | undefined {
  const x = v.scalar;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < min || x > max) return v.expected(`a number ${min}..${max}`);
  return x;
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return net.isIPv6(host) && host === '::1';
}

/** Whether a collector URL is plain http (only allowed to loopback, where no network sees it). */
export function isPlainHttp(url: string): boolean {
  return url.startsWith('http://');
}

function readCollectorUrl(v: YamlValue): string | undefined {
  const text = v.string('an https URL');
  if (text === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return v.fail(`${JSON.stringify(text)} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return v.fail(`${JSON.stringify(text)} must use https://`);
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    return v.fail(`${JSON.stringify(text)}: plain http is allowed only to a loopback address (a local tunnel); use https:// and pin_spki_sha256`);
  }
  if (u.username !== '' || u.password !== '') return v.fail(`${JSON.stringify(text)} must not carry credentials`);
  if (u.search !== '' || u.hash !== '') return v.fail(`${JSON.stringify(text)} must not have a ?query or #fragment`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** A base64 SHA-256 (32 bytes: 44 characters with one "=" of padding), optionally written "sha256/…". */
export function isSpkiPin(text: string): boolean {
  const bare = text.replace(/^sha256\//i, '');
  return /^[A-Za-z0-9+/]{43}=$/.test(bare) && Buffer.from(bare, 'base64').length === 32;
}

function readProxy(v: YamlValue): string | undefined {
  const text = v.string('a proxy URL (http://HOST:PORT, https://HOST:PORT or socks5://HOST:PORT)');
  if (text === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return v.fail(`${JSON.stringify(text)} is not a URL (expected http://HOST:PORT, https://HOST:PORT or socks5://HOST:PORT)`);
  }
  if (!PROXY_PROTOCOLS.includes(u.protocol)) {
    return v.fail(`${JSON.stringify(`${u.protocol}//`)} is not a supported proxy (http://, https:// or socks5://)`);
  }
  if (u.hostname === '') return v.fail(`${JSON.stringify(text)} names no host`);
  if (u.protocol === 'socks5:' && u.port === '') return v.fail(`${JSON.stringify(text)}: a socks5 proxy needs a port, e.g. socks5://127.0.0.1:9050`);
  if ((u.pathname !== '' && u.pathname !== '/') || u.search !== '' || u.hash !== '') {
    return v.fail(`${JSON.stringify(text)}: a proxy URL has no path, query or fragment`);
  }
  return text;
}

function readToken(v: YamlValue): string | undefined {
  return v.stringWhere('an enrollment token of 1..256 printable characters', (s) => s.length > 0 && s.length <= 256 && /^[\x21-\x7e]+$/.test(s));
}

export function readCollector(v: YamlValue): CollectorSettings | undefined {
  const m = v.map(COLLECTOR_KEYS);
  if (!m) return undefined;
  const urlValue = m.required('url');
  const url = urlValue === undefined ? undefined : readCollectorUrl(urlValue);
  const pins = m.optional('pin_spki_sha256', [] as string[], (x) =>
    x.listOf((p) => p.stringWhere('a base64 SHA-256 of the collector\'s public key (44 characters)', isSpkiPin)),
  );
  const token = m.optional('enrollment_token', null, readToken);
  const proxy = m.optional('proxy', null, readProxy);
  const maxAge = m.optional('control_max_age_minutes', CONTROL_MAX_AGE.default, (x) => x.integer(CONTROL_MAX_AGE.min, CONTROL_MAX_AGE.max));
  if (url !== undefined && pins !== undefined) {
    if (!isPlainHttp(url) && pins.length === 0) {
      (m.get('pin_spki_sha256') ?? m.get('url'))?.fail(
        'an https collector needs pin_spki_sha256 (the base64 SHA-256 of its public key): without a pin an interception certificate could read the uploads',
      );
    }
    if (isPlainHttp(url) && pins.length > 0) m.get('pin_spki_sha256')?.fail('pins apply to https collectors only');
  }
  if (url === undefined || pins === undefined || token === undefined || proxy === undefined || maxAge === undefined) return undefined;
  return { url, pin_spki_sha256: pins, enrollment_token: token, proxy, control_max_age_minutes: maxAge };
}

export function readSchedule(m: YamlMap): ScheduleSettings | undefined {
  const d = DAEMON_DEFAULTS.schedule;
  const L = DAEMON_LIMITS;
  const interval = m.optional('interval_minutes', d.interval_minutes, (x) => x.integer(...L.interval_minutes));
  const jitter = m.optional('jitter_fraction', d.jitter_fraction, (x) => number(x, ...L.jitter_fraction));
  // Unset, the surge floor follows a shorter interval down (a probe measuring every 5 minutes may be
  // surged every 5): `interval_minutes: 1` alone is a valid config. Only an explicit one can contradict.
  const surgeMinDefault = Math.min(d.surge_min_interval_minutes, interval ?? d.interval_minutes);
  const surgeMin = m.optional('surge_min_interval_minutes', surgeMinDefault, (x) => x.integer(...L.surge_min_interval_minutes));
  const surgeMax = m.optional('surge_max_hours', d.surge_max_hours, (x) => x.integer(...L.surge_max_hours));
  const budget = m.optional('data_budget_mb', d.data_budget_mb, (x) => x.integer(...L.data_budget_mb));
  if (interval !== undefined && surgeMin !== undefined && surgeMin > interval) {
    const which = m.get('interval_minutes')?.isNull === false ? `interval_minutes (${interval})` : `interval_minutes (${interval}, the default)`;
    (m.get('surge_min_interval_minutes') ?? m.get('interval_minutes'))?.fail(
      `surge_min_interval_minutes (${surgeMin}) must not exceed ${which}: a surge measures more often, never less; lower it, or leave it out to follow the interval`,
    );
  }
  if (interval === undefined || jitter === undefined || surgeMin === undefined || surgeMax === undefined || budget === undefined) return undefined;
  return { interval_minutes: interval, jitter_fraction: jitter, surge_min_interval_minutes: surgeMin, surge_max_hours: surgeMax, data_budget_mb: budget };
}

export function readSpool(m: YamlMap): SpoolSettings | undefined {
  const cap = m.optional('cap_mb', DAEMON_DEFAULTS.spool.cap_mb, (x) => x.integer(...DAEMON_LIMITS.cap_mb));
  return cap === undefined ? undefined : { cap_mb: cap };
}

export function readUpload(m: YamlMap): UploadSettings | undefined {
  const d = DAEMON_DEFAULTS.upload;
  const L = DAEMON_LIMITS;
  const batch = m.optional('batch_size', d.batch_size, (x) => x.integer(...L.batch_size));
  const base = m.optional('backoff_base_s', d.backoff_base_s, (x) => x.integer(...L.backoff_base_s));
  const cap = m.optional('backoff_cap_s', d.backoff_cap_s, (x) => x.integer(...L.backoff_cap_s));
  if (base !== undefined && cap !== undefined && base > cap) {
    (m.get('backoff_base_s') ?? m.get('backoff_cap_s'))?.fail(`backoff_base_s (${base}) must not exceed backoff_cap_s (${cap})`);
  }
  if (batch === undefined || base === undefined || cap === undefined) return undefined;
  return { batch_size: batch, backoff_base_s: base, backoff_cap_s: cap };
}
