// The report's period and scope from the command line: one calendar month (UTC) and one country, checked.
import { InputError } from '../cli/output.js';

export interface ReportPeriod {
  /** "2019-05". */
  month: string;
  /** Inclusive start and exclusive end of the month, epoch ms (UTC). */
  from: number;
  to: number;
  /** ISO country code the report is about ("KZ"). */
  country: string;
}

export const LANGS = ['en', 'ru'] as const;
export type Lang = (typeof LANGS)[number];

/** "2019-05" -> the month's bounds; anything else (2019-13, 2019-5, May) is an InputError naming --month. */
export function parseMonth(value: string | undefined): Pick<ReportPeriod, 'month' | 'from' | 'to'> {
  if (value === undefined || value === '') throw new InputError('report: --month YYYY-MM is required (the calendar month to report on)');
  const m = /^(\d{4})-(\d{2})$/.exec(value);
  const year = m ? Number(m[1]) : NaN;
  const month = m ? Number(m[2]) : NaN;
  if (!m || month < 1 || month > 12 || year < 2000) throw new InputError(`--month: expected a month as YYYY-MM (e.g. 2019-05), got ${JSON.stringify(value)}`);
  return { month: value, from: Date.UTC(year, month - 1, 1), to: Date.UTC(year, month, 1) };
}

export function parseCountry(value: string | undefined): string {
  if (value === undefined) return 'KZ';
  if (!/^[A-Za-z]{2}$/.test(value)) throw new InputError(`--country: expected a two-letter country code (e.g. KZ), got ${JSON.stringify(value)}`);
  return value.toUpperCase();
}

export function parseLang(value: string | undefined): Lang {
  if (value === undefined) return 'en';
  if (!(LANGS as readonly string[]).includes(value)) throw new InputError(`--lang: expected one of ${LANGS.join(', ')}, got ${JSON.stringify(value)}`);
  return value as Lang;
}

/** --base-url: where the collector's API is served, for links to example measurements ("" = relative links). */
export function parseBaseUrl(value: string | undefined): string {
  if (value === undefined) return '';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(`--base-url: expected an http(s) URL, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError(`--base-url: expected an http(s) URL, got ${JSON.stringify(value)}`);
  return value.replace(/\/+$/, '');
}
