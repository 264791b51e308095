// POST /api/v1/probes: registration of a probe's Ed25519 key with an enrollment token (a probe's, or a control's).
import { createPublicKey, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../../common/clock.js';
import { API_PREFIX, PROBE_ID_PATTERN, type RegistrationAnswer } from '../../../contract/wire.js';
import type { Enrollment } from '../../ingest/enrollment.js';
import type { Invites } from '../../storage/invites.js';
import type { ProbeRole, Store } from '../../storage/store.js';
import { errorBody } from '../server.js';

const INVITE_REFUSED = {
  unknown: ['bad_token', 'the enrollment token is not valid'],
  used: ['invite_used', 'this invite was used by another probe: ask the operator for a new one'],
  expired: ['invite_expired', 'this invite has expired: ask the operator for a new one'],
} as const;

export function registrationRoutes(app: FastifyInstance, deps: { enrollment: Enrollment; controlEnrollment?: Enrollment; invites?: Invites; store: Store; clock: Clock }): void {
  const { enrollment, store, clock } = deps;
  app.post(`${API_PREFIX}/probes`, async (request, reply) => {
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return reply.code(400).send(errorBody('bad_request', 'expected a JSON object { enrollment_token, public_key, probe_id? }'));
    }
    const fields = body as Record<string, unknown>;
    const extra = Object.keys(fields).find((k) => !['enrollment_token', 'public_key', 'probe_id'].includes(k));
    if (extra !== undefined) return reply.code(400).send(errorBody('bad_request', `unknown key ${JSON.stringify(extra).slice(0, 60)}`));
    const token = fields['enrollment_token'];
    const pem = fields['public_key'];
    const proposed = fields['probe_id'];
    if (typeof token !== 'string' || token === '') return reply.code(400).send(errorBody('bad_request', 'enrollment_token: expected a string'));
    if (typeof pem !== 'string') return reply.code(400).send(errorBody('bad_request', 'public_key: expected a PEM string'));
    if (proposed !== undefined && (typeof proposed !== 'string' || !PROBE_ID_PATTERN.test(proposed))) {
      return reply.code(400).send(errorBody('bad_request', 'probe_id: expected 8 to 64 characters of A-Z a-z 0-9 _ -'));
    }
    // Both lists are always compared (constant time whichever the token is in).
    const asProbe = enrollment.accepts(token);
    const asControl = deps.controlEnrollment?.accepts(token) ?? false;
    const invites = deps.invites;
    if (!asProbe && !asControl && invites === undefined) return reply.code(403).send(errorBody('bad_token', 'the enrollment token is not valid'));
    const role: ProbeRole = asControl && !asProbe ? 'control' : 'probe';
    let publicKey: string;
    try {
      const key = createPublicKey({ key: pem, format: 'pem' });
      if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
      publicKey = key.export({ type: 'spki', format: 'pem' }).toString();
    } catch {
      return reply.code(400).send(errorBody('bad_public_key', 'public_key: expected a PEM SubjectPublicKeyInfo of an Ed25519 key'));
    }
    const id = proposed ?? randomBytes(16).toString('base64url');
    const at = new Date(clock.now()).toISOString();
    let note: string | null = null;
    if (!asProbe && !asControl) {
      // Not a configured token: a single-use invite's secret, or nothing.
      const existing = store.probe(id);
      if (existing !== undefined && existing.public_key !== publicKey) return reply.code(409).send(errorBody('probe_exists', 'this probe id is registered with another key'));
      const r = invites?.redeem(token, id, at) ?? ({ ok: false, reason: 'unknown' } as const);
      if (!r.ok) {
        const [code, message] = INVITE_REFUSED[r.reason];
        return reply.code(403).send(errorBody(code, message));
      }
      note = r.invite.note;
    } else if (asProbe && !asControl) {
      request.log.warn('a probe registered with a shared enrollment token: whoever holds it can enroll probes; prefer single-use invites (ashyq-collector invite)');
    }
    const outcome = store.registerProbe(id, publicKey, at, role, note);
    if (outcome === 'conflict') return reply.code(409).send(errorBody('probe_exists', 'this probe id is registered with another key'));
    const answer: RegistrationAnswer = { probe_id: id };
    return reply.code(outcome === 'created' ? 201 : 200).send(answer);
  });
}
