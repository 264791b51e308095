// GET /api/v1/networks: the networks measurements came from in a time range, with distinct probes, measurements and when last seen.
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../../common/clock.js';
import { API_PREFIX } from '../../../contract/wire.js';
import type { MeasurementIndex } from '../../storage/measurement-index.js';
import { parseTime } from '../query.js';
import { errorBody } from '../server.js';

const DAY = 86_400_000;

export function networkRoutes(app: FastifyInstance, deps: { index: MeasurementIndex; clock: Clock }): void {
  app.get(`${API_PREFIX}/networks`, async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const now = deps.clock.now();
    const to = parseTime(q['to'], now + 1);
    if (to === null) return reply.code(400).send(errorBody('bad_query', 'to: expected an ISO 8601 time or epoch milliseconds'));
    const from = parseTime(q['from'], to - DAY);
    if (from === null) return reply.code(400).send(errorBody('bad_query', 'from: expected an ISO 8601 time or epoch milliseconds'));
    if (from > to) return reply.code(400).send(errorBody('bad_query', 'from must not be after to'));
    const networks = deps.index.networks(from, to).map((n) => ({
      asn: n.asn === -1 ? null : n.asn,
      cc: n.cc === '' ? null : n.cc,
      name: n.name,
      probes: n.probes,
      measurements: n.measurements,
      last_seen: new Date(n.last_seen).toISOString(),
    }));
    return reply.send({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), networks });
  });
}
