// GET /api/v1/targets (the list with the operator's and the requester's network's event surge, ETag) and GET /api/v1/whoami (the connection's network, the address forgotten).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { API_PREFIX, HEADER_ROUTE, type WhoamiAnswer } from '../../../contract/wire.js';
import type { AsnInfo } from '../../ingest/asn.js';
import type { RequesterNetwork } from '../../targets/event-surge.js';
import { etagMatches } from '../../targets/list.js';
import type { ServedTargets } from '../../targets/served.js';

/** The network a target-list request comes from; null through the volunteer's proxy (the address is the proxy's) or when unknown. */
function requesterNetwork(request: FastifyRequest, lookup: (ip: string) => AsnInfo | null): RequesterNetwork | null {
  if (request.headers[HEADER_ROUTE] === 'proxy') return null;
  const info = lookup(request.ip);
  return info === null ? null : { asn: info.asn, cc: info.cc };
}

export function targetRoutes(app: FastifyInstance, deps: { served: ServedTargets; lookup: (ip: string) => AsnInfo | null }): void {
  const { served, lookup } = deps;
  app.get(`${API_PREFIX}/targets`, async (request, reply) => {
    const list = await served.list(requesterNetwork(request, lookup));
    void reply.header('etag', list.etag).header('cache-control', 'no-cache');
    const inm = request.headers['if-none-match'];
    if (etagMatches(Array.isArray(inm) ? inm.join(',') : inm, list.etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(list.body);
  });

  app.get(`${API_PREFIX}/whoami`, async (request, reply) => {
    const info = lookup(request.ip);
    const answer: WhoamiAnswer = { asn: info?.asn ?? null, cc: info?.cc ?? null, network: info?.network ?? null };
    return reply.header('cache-control', 'no-store').send(answer);
  });
}
