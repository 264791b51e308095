// POST /api/v1/measurements: signed gzip batches, the raw body kept for the signature check, answered per measurement.
import type { FastifyInstance } from 'fastify';
import { API_PREFIX } from '../../../contract/wire.js';
import type { Ingest } from '../../ingest/ingest.js';

export const MEASUREMENTS_ROUTE = `${API_PREFIX}/measurements`;

export async function uploadRoutes(app: FastifyInstance, deps: { ingest: Ingest; maxBodyBytes: number }): Promise<void> {
  const { ingest, maxBodyBytes } = deps;
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) => {
      done(null, body);
    });
    scope.post(MEASUREMENTS_ROUTE, { bodyLimit: maxBodyBytes }, async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const answer = await ingest.handle({ headers: request.headers, body, ip: request.ip });
      if (answer.headers) void reply.headers(answer.headers);
      return reply.code(answer.status).send(answer.body);
    });
  });
}
