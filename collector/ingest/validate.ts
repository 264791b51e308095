// Checks one uploaded measurement against the data contract; a rejection names the JSON path of the first problem.
import { isIP } from 'node:net';
import type {
  Baseline,
  FirstAttempt,
  LineQuality,
  BulkObservation,
  CertificateInfo,
  DnsObservation,
  DnsQueryObservation,
  DnsResponse,
  Evidence,
  HttpObservation,
  TcpObservation,
  TlsHandshakeObservation,
  TlsObservation,
} from '../../contract/evidence.js';
import { FAILURES, OPERATIONS } from '../../contract/failure.js';
import { MEASUREMENT_SCHEMA, type Measurement, type ProbeInfo } from '../../contract/measurement.js';
import { CATEGORIES, type Target } from '../../contract/target.js';
import type { RejectCode, SpoolOverflowReport } from '../../contract/wire.js';
import type { ArchivedRecord, CollectorJudgement } from '../storage/archive.js';
import { LAYERS, SCOPES, VERDICTS, type Decision } from '../../contract/verdict.js';

export const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const COUNTRY = /^[A-Z]{2}$/;
/** Upper bounds that keep one item's cost predictable (the body limit bounds the whole batch). */
const MAX_STRING = 16_384;
const MAX_ARRAY = 10_000;

export interface ValidationContext {
  /** Collector time, epoch ms. */
  now: number;
  maxAgeMs: number;
  maxFutureMs: number;
  /** The collector's targets by id. */
  targets: ReadonlyMap<string, Target>;
  /** Probe id of the batch's (verified) signer. */
  signer: string;
}

export type Validation =
  | { ok: true; measurement: Measurement }
  | { ok: false; id: string | null; code: RejectCode; reason: string };

interface Fault {
  code: RejectCode;
  reason: string;
}

/**
 * A check of one value. `ok` answers whether it passes without building any text (the fast path:
 * almost every upload is valid); `explain` finds the first problem with its JSON path. Both are
 * built by the same combinator from the same rules, so they always agree.
 */
interface Check {
  ok(value: unknown): boolean;
  explain(value: unknown, path: string): Fault | null;
}

function fault(path: string, problem: string, code: RejectCode = 'schema'): Fault {
  return { code, reason: `${path === '' ? '$' : path}: ${problem}` };
}

/** A short, printable rendering of untrusted input for a reason text. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const hasOwn = (value: object, key: string): boolean => Object.prototype.hasOwnProperty.call(value, key);

interface StringOptions {
  max?: number;
  pattern?: RegExp;
  /** What the pattern means, for the reason text. */
  label?: string;
  code?: RejectCode;
  test?: (value: string) => boolean;
}

function str(options: StringOptions = {}): Check {
  const max = options.max ?? MAX_STRING;
  const { pattern, test } = options;
  return {
    ok: (value) =>
      typeof value === 'string' && value.length <= max && (pattern === undefined || pattern.test(value)) && (test === undefined || test(value)),
    explain: (value, path) => {
      if (typeof value !== 'string') return fault(path, `expected a string, got ${kind(value)}`);
      if (value.length > max) return fault(path, `longer than ${max} characters`);
      if (pattern !== undefined && !pattern.test(value)) {
        return fault(path, `not ${options.label ?? 'valid'}: ${show(value)}`, options.code);
      }
      if (test !== undefined && !test(value)) {
        return fault(path, `not ${options.label ?? 'valid'}: ${show(value)}`, options.code);
      }
      return null;
    },
  };
}

function num(options: { int?: boolean; min?: number; max?: number } = {}): Check {
  const { int = false, min, max } = options;
  return {
    ok: (value) =>
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (!int || Number.isInteger(value)) &&
      (min === undefined || value >= min) &&
      (max === undefined || value <= max),
    explain: (value, path) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) return fault(path, `expected a number, got ${kind(value)}`);
      if (int && !Number.isInteger(value)) return fault(path, `expected an integer, got ${value}`);
      if (min !== undefined && value < min) return fault(path, `${value} is below ${min}`);
      if (max !== undefined && value > max) return fault(path, `${value} is above ${max}`);
      return null;
    },
  };
}

const bool: Check = {
  ok: (value) => typeof value === 'boolean',
  explain: (value, path) => (typeof value === 'boolean' ? null : fault(path, `expected a boolean, got ${kind(value)}`)),
};

function literal(expected: string | number): Check {
  return {
    ok: (value) => value === expected,
    explain: (value, path) => (value === expected ? null : fault(path, `expected ${show(expected)}, got ${show(value)}`)),
  };
}

function nullable(check: Check): Check {
  return {
    ok: (value) => value === null || check.ok(value),
    explain: (value, path) => (value === null ? null : check.explain(value, path)),
  };
}

function oneOf(values: readonly string[], what: string, code: RejectCode = 'schema'): Check {
  const set: ReadonlySet<string> = new Set(values);
  return {
    ok: (value) => typeof value === 'string' && set.has(value),
    explain: (value, path) => {
      if (typeof value !== 'string') return fault(path, `expected a string, got ${kind(value)}`);
      return set.has(value) ? null : fault(path, `unknown ${what} ${show(value)}`, code);
    },
  };
}

function arr(check: Check, max = MAX_ARRAY): Check {
  return {
    ok: (value) => {
      if (!Array.isArray(value) || value.length > max) return false;
      for (let i = 0; i < value.length; i++) if (!check.ok(value[i])) return false;
      return true;
    },
    explain: (value, path) => {
      if (!Array.isArray(value)) return fault(path, `expected an array, got ${kind(value)}`);
      if (value.length > max) return fault(path, `more than ${max} entries`);
      for (let i = 0; i < value.length; i++) {
        const problem = check.explain(value[i], `${path}[${i}]`);
        if (problem) return problem;
      }
      return null;
    },
  };
}

/**
 * An object with exactly the keys of T (the mapped type makes the compiler flag a field added to T);
 * the keys named in `optional` may be absent.
 */
function obj<T>(fields: { [K in keyof T]-?: Check }, optional: ReadonlyArray<keyof T & string> = []): Check {
  const entries = Object.entries(fields) as Array<[string, Check]>;
  const names = entries.map(([key]) => key);
  const checks = entries.map(([, check]) => check);
  const known: ReadonlySet<string> = new Set(names);
  const mayLack: ReadonlySet<string> = new Set(optional);
  return {
    ok: (value) => {
      if (!isPlainObject(value)) return false;
      const keys = Object.keys(value);
      // The usual case, every field in the declared order (as JSON.stringify writes them), needs no lookup.
      let inOrder = keys.length === names.length;
      for (let i = 0; inOrder && i < keys.length; i++) inOrder = keys[i] === names[i];
      if (!inOrder) for (let i = 0; i < keys.length; i++) if (!known.has(keys[i]!)) return false;
      // Every own enumerable key is known; as many as there are fields means every field is there.
      const complete = keys.length === names.length;
      for (let i = 0; i < names.length; i++) {
        const key = names[i]!;
        if (!complete && !hasOwn(value, key)) {
          if (mayLack.has(key)) continue;
          return false;
        }
        if (!checks[i]!.ok(value[key])) return false;
      }
      return true;
    },
    explain: (value, path) => {
      if (!isPlainObject(value)) return fault(path, `expected an object, got ${kind(value)}`);
      for (const key of Object.keys(value)) {
        if (!known.has(key)) return fault(path, `unknown key ${show(key)}`);
      }
      for (const [key, check] of entries) {
        if (!hasOwn(value, key)) {
          if (mayLack.has(key)) continue;
          return fault(join(path, key), 'missing');
        }
        const problem = check.explain(value[key], join(path, key));
        if (problem) return problem;
      }
      return null;
    },
  };
}

const HEADER_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** A string-to-string map with bounded size (HTTP headers of interest). */
function dict(max = 64): Check {
  const valueCheck = str();
  return {
    ok: (value) => {
      if (!isPlainObject(value)) return false;
      const keys = Object.keys(value);
      if (keys.length > max) return false;
      for (const key of keys) if (key.length > 256 || !valueCheck.ok(value[key])) return false;
      return true;
    },
    explain: (value, path) => {
      if (!isPlainObject(value)) return fault(path, `expected an object, got ${kind(value)}`);
      const keys = Object.keys(value);
      if (keys.length > max) return fault(path, `more than ${max} keys`);
      for (const key of keys) {
        if (key.length > 256) return fault(path, 'a key is longer than 256 characters');
        const problem = valueCheck.explain(value[key], HEADER_NAME.test(key) ? join(path, key) : `${path}[${show(key)}]`);
        if (problem) return problem;
      }
      return null;
    },
  };
}

const ip = str({ max: 64, label: 'an IP address', test: (v) => isIP(v) !== 0 });
const port = num({ int: true, min: 0, max: 65_535 });
const ms = num({ min: 0 });
const isoTime = str({ max: 40, pattern: ISO_UTC, label: 'an ISO 8601 UTC time', test: (v) => !Number.isNaN(Date.parse(v)) });

const failureFields = {
  failure: nullable(oneOf(FAILURES, 'failure', 'unknown_failure')),
  operation: nullable(oneOf(OPERATIONS, 'operation')),
  error: nullable(str()),
};

const dnsResponse = obj<DnsResponse>({
  rcode: str({ max: 32 }),
  addresses: arr(ip),
  cnames: arr(str({ max: 255 })),
  ttl: nullable(num({ int: true, min: 0 })),
  after_ms: ms,
});

const dnsQuery = obj<DnsQueryObservation>({
  domain: str({ max: 255 }),
  qtype: oneOf(['A', 'AAAA'], 'query type'),
  resolver: str({ max: 512 }),
  kind: oneOf(['system', 'udp', 'doh'], 'resolver kind'),
  rcode: nullable(str({ max: 32 })),
  addresses: arr(ip),
  ttl: nullable(num({ int: true, min: 0 })),
  rtt_ms: nullable(ms),
  late: arr(dnsResponse),
  bogons: arr(ip),
  sends: num({ int: true, min: 1, max: 1000 }),
  ...failureFields,
}, ['sends']);

const dnsObservation = obj<DnsObservation>({
  domain: str({ max: 255 }),
  queries: arr(dnsQuery),
});

const tcpObservation = obj<TcpObservation>({
  domain: nullable(str({ max: 255 })),
  ip,
  port,
  rtt_ms: nullable(ms),
  ...failureFields,
});

const certificate = obj<CertificateInfo>({
  subject: str(),
  issuer: str(),
  fingerprint256: str({ max: 128 }),
  spki_sha256: nullable(str({ max: 128 })),
  serial: str({ max: 256 }),
  valid_from: str({ max: 64 }),
  valid_to: str({ max: 64 }),
  san: arr(str({ max: 512 })),
});

const handshakeFields = {
  sni: nullable(str({ max: 255 })),
  version: nullable(str({ max: 32 })),
  cipher: nullable(str({ max: 128 })),
  alpn: nullable(str({ max: 64 })),
  chain: arr(certificate, 32),
  trusted: nullable(bool),
  hostname_ok: nullable(bool),
  validation_error: nullable(str({ max: 128 })),
  rtt_ms: nullable(ms),
  ...failureFields,
};

const tlsHandshake = obj<TlsHandshakeObservation>(handshakeFields);

const tlsObservation = obj<TlsObservation>({
  domain: nullable(str({ max: 255 })),
  ip,
  port,
  neutral: nullable(tlsHandshake),
  ...handshakeFields,
});

const httpObservation = obj<HttpObservation>({
  domain: str({ max: 255 }),
  url: str({ max: 2048 }),
  ip,
  port,
  status: nullable(num({ int: true, min: 100, max: 999 })),
  headers: dict(),
  body_length: nullable(num({ int: true, min: 0 })),
  body_sha256: nullable(str({ max: 128 })),
  body_head: nullable(str()),
  title: nullable(str({ max: 2048 })),
  rtt_ms: nullable(ms),
  ...failureFields,
});

const bulkObservation = obj<BulkObservation>({
  domain: str({ max: 255 }),
  url: str({ max: 2048 }),
  ip,
  port,
  status: nullable(num({ int: true, min: 100, max: 999 })),
  headers: dict(),
  body_length: nullable(num({ int: true, min: 0 })),
  body_sha256: nullable(str({ max: 128 })),
  body_head: nullable(str()),
  title: nullable(str({ max: 2048 })),
  rtt_ms: nullable(ms),
  body_ms: nullable(ms),
  rate_bps: nullable(num({ min: 0 })),
  ended: oneOf(['complete', 'size', 'time', 'failure'], 'bulk end'),
  ...failureFields,
});

const baseline = obj<Baseline>({
  canaries: arr(str({ max: 128 }), 64),
  bulk_rate_bps: nullable(num({ min: 0 })),
  tls_handshake_ms: nullable(ms),
});

const count = num({ int: true, min: 0, max: 1_000_000 });
const lineQuality = obj<LineQuality>({
  connects: count,
  slow_connects: count,
  dns_answered: count,
  dns_resent: count,
  loss: oneOf(['none', 'some', 'heavy'], 'line loss'),
  portal: nullable(str({ max: 512 })),
});

const firstAttempt = obj<FirstAttempt>({
  dns: arr(dnsObservation),
  tcp: arr(tcpObservation),
  tls: arr(tlsObservation),
  http: arr(httpObservation),
  bulk: arr(bulkObservation, 64),
}, ['bulk']);

const evidence = obj<Evidence>({
  dns: arr(dnsObservation),
  tcp: arr(tcpObservation),
  tls: arr(tlsObservation),
  http: arr(httpObservation),
  bulk: arr(bulkObservation, 64),
  baseline,
  line: lineQuality,
  first: firstAttempt,
}, ['bulk', 'baseline', 'line', 'first']);

const probeInfo = obj<ProbeInfo>({
  id: str({ pattern: /^[A-Za-z0-9_-]{8,64}$/, label: 'a probe id' }),
  asn: nullable(num({ int: true, min: 0, max: 4_294_967_295 })),
  cc: nullable(str({ max: 2, pattern: COUNTRY, label: 'an ISO 3166-1 alpha-2 code' })),
  network: nullable(str({ max: 256 })),
  software: obj<ProbeInfo['software']>({ name: literal('ashyq-probe'), version: str({ max: 64 }) }),
});

const decision = obj<Decision>({
  verdict: oneOf(VERDICTS, 'verdict', 'unknown_verdict'),
  layer: nullable(oneOf(LAYERS, 'layer')),
  confidence: num({ min: 0, max: 1 }),
  reason: str(),
  subjects: arr(str({ max: 512 }), 1000),
  scope: oneOf(SCOPES, 'scope'),
  working: arr(str({ max: 512 }), 1000),
}, ['scope', 'working']);

const measurement = obj<Measurement>({
  schema: literal(MEASUREMENT_SCHEMA),
  id: str({ max: 64, pattern: ULID_PATTERN, label: 'a ULID', code: 'bad_id' }),
  probe: probeInfo,
  target: obj<Measurement['target']>({ id: str({ max: 128 }), category: oneOf(CATEGORIES, 'category') }),
  started_at: isoTime,
  runtime_ms: ms,
  evidence,
  timing: obj<Measurement['timing']>({ dns: ms, tcp: ms, tls: ms, http: ms }),
  verdict: decision,
});

/** The id an item claims, for the answer (only when it is a short string). */
export function claimedId(value: unknown): string | null {
  if (!isPlainObject(value)) return null;
  const id = value['id'];
  return typeof id === 'string' && id.length <= 64 ? id : null;
}

/**
 * The first structural problem of an item with its JSON path, or null: the reason
 * validateMeasurement gives, found without its fast path (which must agree; tests compare them).
 */
export function explainMeasurement(value: unknown): { code: RejectCode; reason: string } | null {
  return measurement.explain(value, '');
}

/** Check one item of a batch: structure, vocabulary, time window, target and signer. */
export function validateMeasurement(value: unknown, ctx: ValidationContext): Validation {
  const id = claimedId(value);
  const reject = (f: Fault): Validation => ({ ok: false, id, code: f.code, reason: f.reason });
  if (isPlainObject(value) && Object.prototype.hasOwnProperty.call(value, 'schema') && value['schema'] !== MEASUREMENT_SCHEMA) {
    return reject(fault('schema', `unsupported schema ${show(value['schema'])} (this collector reads ${MEASUREMENT_SCHEMA})`, 'unsupported_schema'));
  }
  if (!measurement.ok(value)) return reject(measurement.explain(value, '') ?? fault('', 'invalid'));
  const m = value as Measurement;

  const started = Date.parse(m.started_at);
  if (started < ctx.now - ctx.maxAgeMs) {
    return reject(fault('started_at', `${m.started_at} is older than the ${Math.round(ctx.maxAgeMs / 3_600_000)} h the collector accepts`, 'too_old'));
  }
  if (started > ctx.now + ctx.maxFutureMs) {
    return reject(fault('started_at', `${m.started_at} is more than ${Math.round(ctx.maxFutureMs / 1000)} s in the future`, 'in_future'));
  }
  const target = ctx.targets.get(m.target.id);
  if (target === undefined) return reject(fault('target.id', `unknown target ${show(m.target.id)}`, 'unknown_target'));
  if (target.category !== m.target.category) {
    return reject(fault('target.category', `${show(m.target.category)} but target ${show(target.id)} is ${show(target.category)}`, 'target_mismatch'));
  }
  if (m.probe.id !== ctx.signer) {
    return reject(fault('probe.id', `${show(m.probe.id)} is not the probe that signed the batch`, 'probe_mismatch'));
  }
  return { ok: true, measurement: m };
}

const spoolOverflow = obj<SpoolOverflowReport>({
  dropped: num({ int: true, min: 1, max: 1e12 }),
  first_dropped_at: isoTime,
  last_dropped_at: isoTime,
});

/** Check the optional `spool_overflow` report of a batch (a fault refuses the whole batch). */
export function validateSpoolOverflow(value: unknown): { ok: true; report: SpoolOverflowReport } | { ok: false; reason: string } {
  if (!spoolOverflow.ok(value)) return { ok: false, reason: (spoolOverflow.explain(value, 'spool_overflow') ?? fault('spool_overflow', 'invalid')).reason };
  const report = value as SpoolOverflowReport;
  if (Date.parse(report.first_dropped_at) > Date.parse(report.last_dropped_at)) {
    return { ok: false, reason: 'spool_overflow: first_dropped_at is after last_dropped_at' };
  }
  return { ok: true, report };
}

const archivedRecordShell = obj<Omit<ArchivedRecord, 'measurement'> & { measurement: unknown }>({
  received_at: isoTime,
  probe_id: str({ pattern: /^[A-Za-z0-9_-]{8,64}$/, label: 'a probe id' }),
  asn: nullable(num({ int: true, min: 0, max: 4_294_967_295 })),
  cc: nullable(str({ max: 2, pattern: COUNTRY, label: 'an ISO 3166-1 alpha-2 code' })),
  network: nullable(str({ max: 256 })),
  collector: obj<CollectorJudgement>({ verdict: decision, control_id: str({ max: 64 }) }),
  measurement: { ok: () => true, explain: () => null },
}, ['collector']);

export type RecordValidation = { ok: true; record: ArchivedRecord } | { ok: false; id: string | null; code: RejectCode | 'bad_record'; reason: string };

/**
 * Check one record of an archive segment (an import): the record's own fields (when it was
 * received, from which probe, the network it was attributed to), then its measurement as an upload
 * from that probe would be checked (`ctx.signer` is the record's probe).
 */
export function validateArchivedRecord(value: unknown, ctx: Omit<ValidationContext, 'signer'>): RecordValidation {
  if (!archivedRecordShell.ok(value)) {
    const f = archivedRecordShell.explain(value, '') ?? fault('', 'invalid');
    return { ok: false, id: null, code: 'bad_record', reason: f.reason };
  }
  const shell = value as ArchivedRecord;
  const v = validateMeasurement(shell.measurement, { ...ctx, signer: shell.probe_id });
  if (!v.ok) return { ok: false, id: v.id, code: v.code, reason: v.reason.startsWith('$') ? `measurement${v.reason.slice(1)}` : `measurement.${v.reason}` };
  return { ok: true, record: shell };
}
