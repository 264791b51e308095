// GET /api/v1/series: a target's blocked share over time (optionally on one ASN) from the 10-minute aggregates.
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../../common/clock.js';
import { API_PREFIX } from '../../../contract/wire.js';
import { BUCKET_MS, type Store } from '../../storage/store.js';
import type { TargetList } from '../../targets/list.js';
import { parseAsn, parseStep, parseTime } from '../query.js';
import { errorBody } from '../server.js';

const MAX_SERIES_POINTS = 10_000;

export function seriesRoutes(app: FastifyInstance, deps: { store: Store; targets: TargetList; clock: Clock }): void {
  const { store, targets, clock } = deps;
  app.get(`${API_PREFIX}/series`, async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const bad = (message: string) => reply.code(400).send(errorBody('bad_query', message));
    const target = q['target'];
    if (target === undefined || target === '') return bad('target is required');
    if (!targets.byId.has(target)) return bad(`unknown target ${JSON.stringify(target).slice(0, 60)}`);
    const asn = parseAsn(q['asn']);
    if (asn === undefined) return bad('asn: expected a number such as 9198 or AS9198');
    const step = parseStep(q['step']);
    if (step === null || step <= 0 || step % BUCKET_MS !== 0) return bad('step: expected a multiple of 10 minutes, e.g. 10m, 1h, 1d or 600');
    const now = clock.now();
    const to = parseTime(q['to'], Math.ceil(now / BUCKET_MS) * BUCKET_MS);
    if (to === null) return bad('to: expected an ISO 8601 time or epoch milliseconds');
    const from = parseTime(q['from'], to - 24 * 3_600_000);
    if (from === null) return bad('from: expected an ISO 8601 time or epoch milliseconds');
    if (from >= to) return bad('from must be before to');
    if ((to - from) / step > MAX_SERIES_POINTS) return bad(`more than ${MAX_SERIES_POINTS} steps: use a larger step or a shorter range`);
    const points = store.series({ target, asn, from, to, step });
    return reply.send({
      target,
      asn,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      step_s: step / 1000,
      points: points.map((p) => ({ t: new Date(p.t).toISOString(), count: p.count, blocked: p.blocked, partial: p.partial, verdicts: p.verdicts })),
    });
  });
}
