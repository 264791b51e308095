// The event detector's options: defaults, and validation with an error that names the option.
import { DetectorConfigError } from './errors.js';

export interface DetectorConfig {
  /** The probes' measuring interval (ms). Onset and end are reported within two of these. */
  interval_ms: number;
  /**
   * The detector's time resolution (ms); must divide a day. Default: half the interval, so a probe
   * contributes about one measurement per target to every other bucket. Decisions look at a window
   * of ceil(interval / bucket) buckets: one interval, in which every probe has measured once.
   */
  bucket_ms: number;
  /** Distinct probes that must see a blocking in one window (the N-probe rule). */
  min_probes: number;
  /** A probe counts only from the end of the Kth distinct clock hour in which it measured. */
  min_probe_history: number;
  /** A window is hot when its probe-weighted blocked share is at least baseline + open_delta. */
  open_delta: number;
  /** An event closes at the first window whose share is below baseline + close_delta (hysteresis). */
  close_delta: number;
  /** An event opens once hot windows of >= min_probes probes span this long (ms). */
  open_after_ms: number;
  /** One probe alone opens an event once its hot windows span this long (ms)... */
  single_probe_after_ms: number;
  /** ...with a share at least this high (no other probe of the series disagrees)... */
  single_probe_share: number;
  /** ...while at most this share of its measurements of every target (canaries included) is blocked or offline. */
  single_probe_health: number;
  /** A series whose median bucket share is at least this is a chronic block, not a source of events. */
  chronic_share: number;
  /** An open event whose series has no data for this long (ms) closes at its last blocked measurement. */
  max_gap_ms: number;
  /** A country-wide shutdown needs offline probes on at least this many ASNs. */
  shutdown_min_asns: number;
  /** advance(now) compacts buckets older than now - horizon_ms (their per-probe detail is dropped). */
  horizon_ms: number;
  /** Example measurement ids kept per event. */
  examples: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Defaults for the test fleet (30-minute interval); the derived options follow interval_ms when not given. */
export function defaultConfig(interval_ms = 30 * MINUTE): DetectorConfig {
  return {
    interval_ms,
    bucket_ms: interval_ms / 2,
    min_probes: 2,
    min_probe_history: 6,
    open_delta: 0.5,
    close_delta: 0.2,
    open_after_ms: interval_ms,
    single_probe_after_ms: 4 * interval_ms,
    single_probe_share: 0.9,
    single_probe_health: 0.5,
    chronic_share: 0.5,
    max_gap_ms: 12 * interval_ms,
    shutdown_min_asns: 2,
    horizon_ms: 3 * DAY,
    examples: 5,
  };
}

type Rule = { int?: boolean; min: number; max?: number; minExclusive?: boolean };

const RULES: Record<keyof DetectorConfig, Rule> = {
  interval_ms: { int: true, min: 1000 },
  bucket_ms: { int: true, min: 1000 },
  min_probes: { int: true, min: 1 },
  min_probe_history: { int: true, min: 0 },
  open_delta: { min: 0, max: 1, minExclusive: true },
  close_delta: { min: 0, max: 1 },
  open_after_ms: { int: true, min: 0 },
  single_probe_after_ms: { int: true, min: 0 },
  single_probe_share: { min: 0, max: 1 },
  single_probe_health: { min: 0, max: 1 },
  chronic_share: { min: 0, max: 1, minExclusive: true },
  max_gap_ms: { int: true, min: 0 },
  shutdown_min_asns: { int: true, min: 1 },
  horizon_ms: { min: 0 },
  examples: { int: true, min: 0, max: 100 },
};

/** A complete, checked config from partial options (unknown keys and bad values throw DetectorConfigError). */
export function resolveConfig(options: Partial<DetectorConfig> = {}): DetectorConfig {
  if (typeof options !== 'object' || options === null) throw new DetectorConfigError('(options)', 'expected an object');
  for (const key of Object.keys(options)) {
    if (!(key in RULES)) throw new DetectorConfigError(key, 'unknown option');
  }
  const interval = options.interval_ms;
  if (interval !== undefined) check('interval_ms', interval);
  const config: DetectorConfig = { ...defaultConfig(interval), ...stripUndefined(options) };
  for (const key of Object.keys(RULES) as Array<keyof DetectorConfig>) check(key, config[key]);
  if (DAY % config.bucket_ms !== 0) throw new DetectorConfigError('bucket_ms', `${config.bucket_ms} does not divide a day`);
  if (config.bucket_ms > config.interval_ms) {
    throw new DetectorConfigError('bucket_ms', `${config.bucket_ms} is longer than interval_ms ${config.interval_ms}`);
  }
  if (config.close_delta > config.open_delta) {
    throw new DetectorConfigError('close_delta', `${config.close_delta} is above open_delta ${config.open_delta} (no hysteresis)`);
  }
  return config;
}

function stripUndefined(options: Partial<DetectorConfig>): Partial<DetectorConfig> {
  const out: Partial<DetectorConfig> = {};
  for (const [key, value] of Object.entries(options)) if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  return out;
}

function check(key: keyof DetectorConfig, value: unknown): asserts value is number {
  const rule = RULES[key];
  if (typeof value !== 'number' || Number.isNaN(value)) throw new DetectorConfigError(key, `expected a number, got ${JSON.stringify(value)}`);
  if (rule.int === true && !Number.isInteger(value)) throw new DetectorConfigError(key, `expected an integer, got ${value}`);
  if (rule.minExclusive === true ? value <= rule.min : value < rule.min) {
    throw new DetectorConfigError(key, `${value} is ${rule.minExclusive === true ? 'not above' : 'below'} ${rule.min}`);
  }
  if (rule.max !== undefined && value > rule.max) throw new DetectorConfigError(key, `${value} is above ${rule.max}`);
}

/** Buckets in one decision window (one probe interval). */
export function windowBuckets(config: DetectorConfig): number {
  return Math.max(1, Math.ceil(config.interval_ms / config.bucket_ms));
}
