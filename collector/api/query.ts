// Parsing of the query parameters the reading routes share: times and steps.
import { parseDuration } from '../../common/duration.js';

/** An ISO 8601 time or epoch milliseconds; `fallback` when absent; null when unreadable. */
export function parseTime(value: string | undefined, fallback: number): number | null {
  if (value === undefined || value === '') return fallback;
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

/** A step such as 600 (seconds), 10m, 1h or 1d, in ms (default 1 h); null when unreadable. */
export function parseStep(value: string | undefined): number | null {
  if (value === undefined || value === '') return 3_600_000;
  return /^\d{1,9}$/.test(value) ? Number(value) * 1000 : parseDuration(value);
}

/** An ASN such as 9198 or AS9198; null when absent; undefined when unreadable. */
export function parseAsn(value: string | undefined): number | null | undefined {
  if (value === undefined || value === '') return null;
  const raw = value.replace(/^AS/i, '');
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 4_294_967_295) return undefined;
  return Number(raw);
}
