// The upload wire format shared by probe and collector: batch and answer types, Ed25519 signing and checking.
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Measurement } from './measurement.js';
import type { Evidence } from './evidence.js';

/** First line of the signed string; a new signing scheme gets a new version here. */
export const SIGNATURE_CONTEXT = 'ashyq-batch-v1';

export const HEADER_PROBE = 'x-ashyq-probe';
export const HEADER_TIMESTAMP = 'x-ashyq-timestamp';
export const HEADER_SIGNATURE = 'x-ashyq-signature';
/**
 * `proxy` when a batch comes through the volunteer's proxy: the connection's address is then the
 * proxy's, so the collector does not look it up and keeps the network the probe states (its config).
 */
export const HEADER_ROUTE = 'x-ashyq-route';

/** Probe ids: random, URL-safe, 8 to 64 characters (no separator can hide in the signed string). */
export const PROBE_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

export const API_PREFIX = '/api/v1';

/**
 * What a probe's spool dropped to stay under its disk cap and has not reported yet: sent along with a
 * batch (optional `spool_overflow`). The collector keeps one row per (probe, first_dropped_at) with
 * the largest count seen, so a report resent after a lost answer is not counted twice.
 */
export interface SpoolOverflowReport {
  /** Measurements dropped, ≥ 1. */
  dropped: number;
  /** ISO 8601 UTC. */
  first_dropped_at: string;
  last_dropped_at: string;
}

/** The JSON inside the gzip body of `POST /api/v1/measurements`. */
export interface Batch {
  probe_id: string;
  measurements: Measurement[];
  spool_overflow?: SpoolOverflowReport;
}

/**
 * The target every collector accepts without listing it: the probe's own measurement of the
 * collector, e.g. a `tls.interception` verdict when the collector's certificate does not match the
 * pinned key. It is never served in the target list (probes do not schedule it).
 */
export const COLLECTOR_TARGET = { id: 'ashyq-collector', category: 'circumvention' } as const;

/**
 * A surge the collector may ask for in `GET /api/v1/targets` (optional `surge` key beside `version`
 * and `targets`): measure these target ids every `interval_minutes` until `until` (ISO 8601 UTC).
 * The probe honours it only within the limits of its own configuration.
 */
export interface SurgeAnswer {
  targets: string[];
  interval_minutes: number;
  until: string;
}

/**
 * What a probe on its default settings accepts of a surge: it measures no more often than every
 * `surge_min_interval_minutes` and follows one surge for at most `surge_max_hours`.
 */
export const SURGE_DEFAULT_LIMITS = { surge_min_interval_minutes: 10, surge_max_hours: 6 } as const;

export type ItemStatus = 'accepted' | 'duplicate' | 'rejected';

/** Why one measurement of a batch was rejected (low-cardinality: also a metrics label). */
export type RejectCode =
  | 'schema'
  | 'unsupported_schema'
  | 'bad_id'
  | 'unknown_failure'
  | 'unknown_verdict'
  | 'too_old'
  | 'in_future'
  | 'unknown_target'
  | 'target_mismatch'
  | 'probe_mismatch';

export interface ItemResult {
  /** Position of the measurement in the batch. */
  index: number;
  /** The measurement id, or null when the item carries no readable id. */
  id: string | null;
  status: ItemStatus;
  code?: RejectCode;
  /** For rejections: the JSON path and the problem, e.g. `evidence.tcp[2].failure: unknown failure "boom"`. */
  reason?: string;
}

/** 200 answer to a well-formed, authenticated batch: one result per measurement, in batch order. */
export interface BatchAnswer {
  results: ItemResult[];
}

/** Why a whole request was refused. */
export type BatchErrorCode =
  | 'unsupported_media_type'
  | 'unsupported_encoding'
  | 'too_large'
  | 'too_many_items'
  | 'bad_gzip'
  | 'bad_json'
  | 'bad_batch'
  | 'missing_signature'
  | 'unknown_probe'
  | 'probe_revoked'
  | 'bad_signature'
  | 'timestamp_skew'
  | 'replay'
  | 'rate_limited'
  | 'archive_unavailable';

/** Every 4xx/5xx answer of the API. */
export interface ErrorAnswer {
  error: { code: string; message: string };
}

/** `POST /api/v1/probes` request. */
export interface RegistrationRequest {
  enrollment_token: string;
  /** PEM SubjectPublicKeyInfo of the probe's Ed25519 key. */
  public_key: string;
  /** A random id proposed by the probe; the collector makes one when absent. */
  probe_id?: string;
}

export interface RegistrationAnswer {
  probe_id: string;
}

/** `GET /api/v1/whoami`: the network the request came from (never the address). */
export interface WhoamiAnswer {
  asn: number | null;
  cc: string | null;
  network: string | null;
}

export interface BatchHeaders {
  'content-type': 'application/json';
  'content-encoding': 'gzip';
  'x-ashyq-probe': string;
  'x-ashyq-timestamp': string;
  'x-ashyq-signature': string;
}

export type VerifyFailure = 'missing_signature' | 'bad_signature' | 'timestamp_skew';
export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailure; message: string };

/** Lower-case hex SHA-256. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The exact UTF-8 string that is signed: context, probe id, timestamp and the body's hash, one per line. */
export function signingString(probeId: string, timestamp: number, gzippedBody: Uint8Array): string {
  return `${SIGNATURE_CONTEXT}\n${probeId}\n${timestamp}\n${sha256Hex(gzippedBody)}`;
}

/** The gzip body of a batch. */
export function encodeBatch(batch: Batch): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(batch), 'utf8'));
}

function asPrivateKey(key: KeyObject | string): KeyObject {
  return typeof key === 'string' ? createPrivateKey(key) : key;
}

function asPublicKey(key: KeyObject | string): KeyObject {
  return typeof key === 'string' ? createPublicKey(key) : key;
}

/** Headers of a batch upload, signed with the probe's Ed25519 private key at time `now` (epoch ms). */
export function signBatch(
  privateKey: KeyObject | string,
  probeId: string,
  gzippedBody: Uint8Array,
  now: number,
): BatchHeaders {
  const timestamp = Math.trunc(now);
  const signature = sign(null, Buffer.from(signingString(probeId, timestamp, gzippedBody), 'utf8'), asPrivateKey(privateKey));
  return {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
    'x-ashyq-probe': probeId,
    'x-ashyq-timestamp': String(timestamp),
    'x-ashyq-signature': signature.toString('base64'),
  };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
}

const TIMESTAMP_PATTERN = /^[0-9]{1,16}$/;
const BASE64_SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;

/**
 * Check a batch's headers against the probe's public key: the signature covers probe id, timestamp
 * and body hash; the timestamp must be within ±maxSkewMs of `now`. Replays are the caller's concern.
 */
export function verifyBatch(
  publicKey: KeyObject | string,
  headers: Record<string, string | string[] | undefined>,
  gzippedBody: Uint8Array,
  now: number,
  maxSkewMs: number,
): VerifyResult {
  const probeId = single(headers[HEADER_PROBE]);
  const stamp = single(headers[HEADER_TIMESTAMP]);
  const signature = single(headers[HEADER_SIGNATURE]);
  if (probeId === undefined || stamp === undefined || signature === undefined) {
    return { ok: false, reason: 'missing_signature', message: `${HEADER_PROBE}, ${HEADER_TIMESTAMP} and ${HEADER_SIGNATURE} are required, once each` };
  }
  if (!PROBE_ID_PATTERN.test(probeId)) {
    return { ok: false, reason: 'missing_signature', message: `${HEADER_PROBE} is not a probe id` };
  }
  if (!TIMESTAMP_PATTERN.test(stamp)) {
    return { ok: false, reason: 'bad_signature', message: `${HEADER_TIMESTAMP} must be epoch milliseconds` };
  }
  const timestamp = Number(stamp);
  if (Math.abs(now - timestamp) > maxSkewMs) {
    return {
      ok: false,
      reason: 'timestamp_skew',
      message: `${HEADER_TIMESTAMP} is ${Math.round((timestamp - now) / 1000)} s away from the collector's clock (allowed ±${Math.round(maxSkewMs / 1000)} s)`,
    };
  }
  if (!BASE64_SIGNATURE.test(signature)) {
    return { ok: false, reason: 'bad_signature', message: `${HEADER_SIGNATURE} must be a base64 Ed25519 signature (64 bytes)` };
  }
  // Base64 ignores the unused bits of the last character: only the canonical spelling is taken, so
  // that a captured signature cannot be sent again under another one (the replay cache keys on it).
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.toString('base64') !== signature) {
    return { ok: false, reason: 'bad_signature', message: `${HEADER_SIGNATURE} is not in canonical base64 (the unused bits of its last character must be zero)` };
  }
  let good = false;
  try {
    good = verify(null, Buffer.from(signingString(probeId, timestamp, gzippedBody), 'utf8'), asPublicKey(publicKey), bytes);
  } catch {
    good = false;
  }
  return good ? { ok: true } : { ok: false, reason: 'bad_signature', message: 'the signature does not verify with the probe\'s registered key' };
}

/** GET of the control vantage's latest evidence per target (public: what a vantage outside the censor saw of public sites). */
export const CONTROL_EVIDENCE_PATH = `${API_PREFIX}/control/evidence`;

/** One target's latest usable control measurement, as the collector serves it to probes. */
export interface ControlEvidenceItem {
  target: string;
  /** The control measurement's id. */
  id: string;
  /** When it was measured (ISO 8601 UTC). */
  at: string;
  evidence: Evidence;
}

export interface ControlEvidenceAnswer {
  /** Whether the collector measures as the control vantage at all (false: no control is to be expected). */
  enabled: boolean;
  controls: ControlEvidenceItem[];
}
