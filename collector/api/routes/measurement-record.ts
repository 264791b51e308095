// GET /api/v1/measurements/:id: one whole measurement read back from the archive (evidence per layer, both verdicts, the reason).
import type { FastifyInstance } from 'fastify';
import { API_PREFIX } from '../../../contract/wire.js';
import type { Archive, ArchivedRecord } from '../../storage/archive.js';
import type { ProbeExclusions } from '../../storage/exclusions.js';
import type { MeasurementIndex } from '../../storage/measurement-index.js';
import { errorBody } from '../server.js';
import { recordView } from './measurement-view.js';

const ID = /^[0-9A-Za-z]{1,64}$/;

/** `counted: false` and since when, for a measurement of a revoked probe left out of aggregates and events. */
function counting(record: ArchivedRecord, exclusions: ProbeExclusions): Record<string, unknown> {
  if (exclusions.counts(record.probe_id, record.measurement.started_at)) return { counted: true };
  return { counted: false, uncounted_reason: `its probe was revoked; its measurements from ${new Date(exclusions.excludedFrom(record.probe_id)!).toISOString()} on are left out of aggregates and events` };
}

export function measurementRecordRoutes(app: FastifyInstance, deps: { index: MeasurementIndex; archive: Archive; exclusions: () => ProbeExclusions }): void {
  app.get(`${API_PREFIX}/measurements/:id`, async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!ID.test(id)) return reply.code(400).send(errorBody('bad_query', 'id: expected a measurement id (a ULID)'));
    const row = deps.index.get(id.toUpperCase());
    if (row === null) return reply.code(404).send(errorBody('not_found', 'no measurement with this id'));
    const record = await deps.archive.readAt({ segment: row.segment, offset: row.offset });
    if (record === null || record.measurement.id !== row.id) {
      request.log.error({ id: row.id, segment: row.segment, offset: row.offset }, 'measurement index points at no such record (run reindex)');
      return reply.code(500).send(errorBody('index_mismatch', 'the index points at no such record in the archive'));
    }
    // A reindex that judged the record again with the control archive keeps its new judgement beside the index.
    const rejudged = deps.index.rejudged(row.id);
    const counted = counting(record, deps.exclusions());
    if (rejudged === undefined) return reply.send({ measurement: { ...recordView(row, record), ...counted } });
    const { collector: _archived, ...rest } = record;
    return reply.send({ measurement: { ...recordView(row, rejudged === null ? rest : { ...rest, collector: rejudged }), ...counted } });
  });
}
