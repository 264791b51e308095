// GET /api/v1/targets (the list with the operator's surge, ETag) and GET /api/v1/whoami (the connection's network, the address forgotten).
import type { FastifyInstance } from 'fastify';
import { API_PREFIX, type WhoamiAnswer } from '../../../contract/wire.js';
import type { AsnInfo } from '../../ingest/asn.js';
import { etagMatches } from '../../targets/list.js';
import type { SurgeWatcher } from '../../targets/surge.js';

export function targetRoutes(app: FastifyInstance, deps: { surges: SurgeWatcher; lookup: (ip: string) => AsnInfo | null }): void {
  const { surges, lookup } = deps;
  app.get(`${API_PREFIX}/targets`, async (request, reply) => {
    const served = await surges.list();
    void reply.header('etag', served.etag).header('cache-control', 'no-cache');
    const inm = request.headers['if-none-match'];
    if (etagMatches(Array.isArray(inm) ? inm.join(',') : inm, served.etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(served.body);
  });

  app.get(`${API_PREFIX}/whoami`, async (request, reply) => {
    const info = lookup(request.ip);
    const answer: WhoamiAnswer = { asn: info?.asn ?? null, cc: info?.cc ?? null, network: info?.network ?? null };
    return reply.header('cache-control', 'no-store').send(answer);
  });
}
