// GET /api/v1/control: the control vantage's status per target (its last control measurement's time and verdict).
import type { FastifyInstance } from 'fastify';
import type { ControlStage } from '../../control/stage.js';

export function controlRoutes(app: FastifyInstance, deps: { control: ControlStage }): void {
  app.get('/api/v1/control', async (_request, reply) => reply.send(deps.control.view()));
}
