// GET /api/v1/measurements: the measurement index, filtered, newest first, paged with a cursor.
import type { FastifyInstance } from 'fastify';
import { API_PREFIX } from '../../../contract/wire.js';
import { VERDICTS } from '../../../contract/verdict.js';
import type { IndexQuery, MeasurementIndex } from '../../storage/measurement-index.js';
import { parseAsn, parseTime } from '../query.js';
import { errorBody } from '../server.js';
import { rowView } from './measurement-view.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

type Query = Record<string, string | undefined>;
type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** The position after the last row of a page, opaque to clients: base64url of [t, id]. */
export function encodeCursor(t: number, id: string): string {
  return Buffer.from(JSON.stringify([t, id])).toString('base64url');
}

function decodeCursor(text: string): { t: number; id: string } | null {
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return { t: v[0] as number, id: v[1] };
  } catch {
    // not JSON
  }
  return null;
}

export function parseMeasurementQuery(q: Query): Parsed<IndexQuery> {
  const out: IndexQuery = { limit: DEFAULT_LIMIT };
  const from = parseTime(q['from'], Number.NaN);
  if (from === null) return { ok: false, message: 'from: expected an ISO 8601 time or epoch milliseconds' };
  if (!Number.isNaN(from)) out.from = from;
  const to = parseTime(q['to'], Number.NaN);
  if (to === null) return { ok: false, message: 'to: expected an ISO 8601 time or epoch milliseconds' };
  if (!Number.isNaN(to)) out.to = to;
  if (out.from !== undefined && out.to !== undefined && out.from > out.to) return { ok: false, message: 'from must not be after to' };
  const target = q['target'];
  if (target !== undefined && target !== '') out.target = target;
  const asn = parseAsn(q['asn']);
  if (asn === undefined) return { ok: false, message: 'asn: expected a number such as 9198 or AS9198' };
  if (asn !== null) out.asn = asn;
  const country = q['country'] ?? q['cc'];
  if (country !== undefined && country !== '') {
    if (!/^[A-Za-z]{2}$/.test(country)) return { ok: false, message: 'country: expected a two-letter country code such as KZ' };
    out.cc = country.toUpperCase();
  }
  const verdict = q['verdict'];
  if (verdict !== undefined && verdict !== '') {
    if (!(VERDICTS as readonly string[]).includes(verdict)) return { ok: false, message: `verdict: expected one of ${VERDICTS.join(', ')}` };
    out.verdict = verdict;
  }
  const probe = q['probe'];
  if (probe !== undefined && probe !== '') {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(probe)) return { ok: false, message: 'probe: expected a probe id (letters, digits, - and _)' };
    out.probe = probe;
  }
  const limit = q['limit'];
  if (limit !== undefined && limit !== '') {
    if (!/^\d{1,5}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT) return { ok: false, message: `limit: expected a whole number from 1 to ${MAX_LIMIT}` };
    out.limit = Number(limit);
  }
  const cursor = q['cursor'];
  if (cursor !== undefined && cursor !== '') {
    const before = decodeCursor(cursor);
    if (before === null) return { ok: false, message: 'cursor: not a cursor this API gave (use next_cursor of the previous page)' };
    out.before = before;
  }
  return { ok: true, value: out };
}

export function measurementListRoutes(app: FastifyInstance, deps: { index: MeasurementIndex }): void {
  app.get(`${API_PREFIX}/measurements`, async (request, reply) => {
    const parsed = parseMeasurementQuery(request.query as Query);
    if (!parsed.ok) return reply.code(400).send(errorBody('bad_query', parsed.message));
    const q = parsed.value;
    // One more than asked: whether another page follows.
    const rows = deps.index.query({ ...q, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last !== undefined ? encodeCursor(last.t, last.id) : null;
    return reply.send({ measurements: page.map(rowView), next_cursor: next });
  });
}
