// GET /api/v1/events (filtered), /api/v1/events/:id (with its revisions), /api/v1/incidents and /api/v1/chronic: what the event detector found.
import type { FastifyInstance } from 'fastify';
import { API_PREFIX } from '../../../contract/wire.js';
import { METHODS } from '../../events/observation.js';
import type { BlockingEvent, EventFilter, EventKind, Incident } from '../../events/types.js';
import type { EventStore } from '../../storage/event-store.js';
import { parseAsn, parseTime } from '../query.js';
import { errorBody } from '../server.js';

const KINDS: readonly EventKind[] = ['blocking', 'partial', 'throttling', 'shutdown'];
const EVENT_METHODS: readonly string[] = [...METHODS, 'shutdown'];
const MAX_ITEMS = 10_000;

type Query = Record<string, string | undefined>;
type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

function flag(q: Query, name: string): boolean | undefined | null {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return null;
}

/** The filters shared by the API and the command line: time range, target, ASN, country, method, kind, open only. */
export function parseEventQuery(q: Query): Parsed<EventFilter & { open?: boolean }> {
  const filter: EventFilter & { open?: boolean } = {};
  const from = parseTime(q['from'], Number.NaN);
  if (from === null) return { ok: false, message: 'from: expected an ISO 8601 time or epoch milliseconds' };
  if (!Number.isNaN(from)) filter.from = from;
  const to = parseTime(q['to'], Number.NaN);
  if (to === null) return { ok: false, message: 'to: expected an ISO 8601 time or epoch milliseconds' };
  if (!Number.isNaN(to)) filter.to = to;
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) return { ok: false, message: 'from must not be after to' };
  const target = q['target'];
  if (target !== undefined && target !== '') filter.target = target;
  const asn = parseAsn(q['asn']);
  if (asn === undefined) return { ok: false, message: 'asn: expected a number such as 9198 or AS9198' };
  if (asn !== null) filter.asn = asn;
  const cc = q['cc'];
  if (cc !== undefined && cc !== '') {
    if (!/^[A-Za-z]{2}$/.test(cc)) return { ok: false, message: 'cc: expected a two-letter country code such as KZ' };
    filter.cc = cc.toUpperCase();
  }
  const method = q['method'];
  if (method !== undefined && method !== '') {
    if (!EVENT_METHODS.includes(method)) return { ok: false, message: `method: expected one of ${EVENT_METHODS.join(', ')}` };
    filter.method = method as EventFilter['method'] & string;
  }
  const kind = q['kind'];
  if (kind !== undefined && kind !== '') {
    if (!KINDS.includes(kind as EventKind)) return { ok: false, message: `kind: expected one of ${KINDS.join(', ')}` };
    filter.kind = kind as EventKind;
  }
  const open = flag(q, 'open');
  if (open === null) return { ok: false, message: 'open: expected true or false' };
  if (open === true) filter.open = true;
  const retracted = flag(q, 'include_retracted');
  if (retracted === null) return { ok: false, message: 'include_retracted: expected true or false' };
  if (retracted === true) filter.include_retracted = true;
  return { ok: true, value: filter };
}

/** An event as the API answers it: times in ISO 8601 UTC. */
export function eventView(e: BlockingEvent): Record<string, unknown> {
  return { ...e, start: new Date(e.start).toISOString(), end: e.end === null ? null : new Date(e.end).toISOString() };
}

export function incidentView(i: Incident): Record<string, unknown> {
  return { ...i, start: new Date(i.start).toISOString(), end: i.end === null ? null : new Date(i.end).toISOString() };
}

export function eventRoutes(app: FastifyInstance, deps: { events: EventStore }): void {
  const { events } = deps;

  app.get(`${API_PREFIX}/events`, async (request, reply) => {
    const parsed = parseEventQuery(request.query as Query);
    if (!parsed.ok) return reply.code(400).send(errorBody('bad_query', parsed.message));
    const list = events.events(parsed.value);
    return reply.send({ events: list.slice(0, MAX_ITEMS).map(eventView), truncated: list.length > MAX_ITEMS });
  });

  app.get(`${API_PREFIX}/events/:id`, async (request, reply) => {
    const { id } = request.params as { id: string };
    const event = events.event(id);
    if (event === null) return reply.code(404).send(errorBody('not_found', 'no event with this id'));
    const revisions = events.revisionsOf(id).map((r) => ({ ...r, at: new Date(r.at).toISOString(), event: eventView(r.event) }));
    return reply.send({ event: eventView(event), revisions });
  });

  app.get(`${API_PREFIX}/incidents`, async (request, reply) => {
    const q = request.query as Query;
    const parsed = parseEventQuery({ from: q['from'], to: q['to'], open: q['open'] });
    if (!parsed.ok) return reply.code(400).send(errorBody('bad_query', parsed.message));
    const { from, to, open } = parsed.value;
    const list = events.incidents({ ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), ...(open ? { open } : {}) });
    return reply.send({ incidents: list.slice(0, MAX_ITEMS).map(incidentView), truncated: list.length > MAX_ITEMS });
  });

  app.get(`${API_PREFIX}/chronic`, async (_request, reply) => {
    const list = events.chronic().map((c) => ({ ...c, first_seen: new Date(c.first_seen).toISOString(), last_seen: new Date(c.last_seen).toISOString() }));
    return reply.send({ chronic: list });
  });
}
