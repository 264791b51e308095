// GET /api/v1/control: the control vantage's status per target; GET /api/v1/control/evidence: its latest evidence, for probes.
import type { FastifyInstance } from 'fastify';
import type { ControlStage } from '../../control/stage.js';
import { CONTROL_EVIDENCE_PATH } from '../../../contract/wire.js';

export function controlRoutes(app: FastifyInstance, deps: { control: ControlStage }): void {
  app.get('/api/v1/control', async (_request, reply) => reply.send(deps.control.view()));
  // What probes classify with: the same list for every probe (a probe never says which targets it is about to test).
  app.get(CONTROL_EVIDENCE_PATH, async (_request, reply) => reply.send(deps.control.evidence()));
}
