// GET /healthz (liveness: the store answers) and GET /metrics (Prometheus text).
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../metrics.js';
import type { Follower } from '../../pipeline/follower.js';
import type { Store } from '../../storage/store.js';
import type { EventSurges } from '../../targets/event-surge.js';
import type { SurgeWatcher } from '../../targets/surge.js';

export function healthRoutes(
  app: FastifyInstance,
  deps: { store: Store; metrics: Metrics; surges: SurgeWatcher; eventSurges: EventSurges; followers: readonly Follower[] },
): void {
  const { store, metrics, surges, eventSurges, followers } = deps;
  app.get('/healthz', async (_request, reply) => {
    try {
      store.probeCount();
      return reply.send({ status: 'ok' });
    } catch {
      return reply.code(503).send({ status: 'unavailable' });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    metrics.setSurge(await surges.current());
    metrics.setEventSurges(eventSurges.active().length);
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render(followers, store.probeCount()));
  });
}
