// The collector's HTTP API (fastify): registration, signed batch ingest, targets (with the operator's surge), whoami, series, health, metrics.
import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Clock } from '../common/clock.js';
import {
  API_PREFIX,
  PROBE_ID_PATTERN,
  type ErrorAnswer,
  type RegistrationAnswer,
  type WhoamiAnswer,
} from '../contract/wire.js';
import { Archive, type ArchiveCursor, type ArchivedRecord, type Recovery } from './archive.js';
import type { AsnInfo, AsnLookup } from './asn.js';
import type { CollectorConfig } from './config.js';
import { Enrollment } from './enrollment.js';
import { Ingest } from './ingest.js';
import { Metrics } from './metrics.js';
import { catchUp, type IndexSummary } from './reindex.js';
import { BUCKET_MS, Store } from './store.js';
import { SurgeWatcher } from './surge.js';
import { parseDuration } from './duration.js';
import { etagMatches, loadTargetList, type TargetList } from './targets.js';

/**
 * A time-series writer fed from the archive (the InfluxDB sink). After each accepted batch it is
 * handed the records through `offer` when it has one, else woken through `notify`.
 */
export interface Sink {
  name: string;
  notify(): void;
  /** Archived measurements not yet written. */
  backlog(): number;
  /**
   * In-memory handoff: `records` were just appended and fsynced, in archive order, starting at
   * `cursorBefore` and ending before `cursorAfter`. Calls come in archive order, one append each.
   * The sink may take them (and write them without reading the archive) or decline, in which case it
   * must find them in the archive itself; returns whether it took them. Must not block or throw.
   */
  offer?(records: readonly ArchivedRecord[], cursorAfter: ArchiveCursor, cursorBefore: ArchiveCursor): boolean;
}

/** What a sink factory gets: the archive to read from (with cursors), the store and the config. */
export interface SinkContext {
  archive: Archive;
  store: Store;
  config: CollectorConfig;
  clock: Clock;
}

export interface CollectorLog {
  /** Where pino writes JSON lines (default: stdout). */
  stream?: { write(line: string): unknown };
  level?: string;
}

export interface CollectorDeps {
  clock: Clock;
  /** IP → ASN/country/network for whoami and for archived records; none = what the probe states. */
  asnLookup?: AsnLookup;
  sinks?: Sink[] | ((ctx: SinkContext) => Sink[] | Promise<Sink[]>);
  /** Logging; false = silent. */
  log?: CollectorLog | false;
  /** Targets to accept; default: loaded from config.targets_file (or the packaged targets.yaml). */
  targets?: TargetList;
}

export interface Collector {
  app: FastifyInstance;
  close(): Promise<void>;
  archive: Archive;
  store: Store;
  metrics: Metrics;
  /** The target list without a surge from surge.json: what uploads are validated against. */
  targets: TargetList;
  /** The operator's surge (surge.json in the data dir), as served with the target list. */
  surges: SurgeWatcher;
  sinks: readonly Sink[];
  /** Torn archive tails cut at start, and what catching the store up with the archive did. */
  recovered: Recovery[];
  caughtUp: IndexSummary;
}

const REGISTRATION_BODY_LIMIT = 16 * 1024;
const MAX_SERIES_POINTS = 10_000;

function errorBody(code: string, message: string): ErrorAnswer {
  return { error: { code, message } };
}

/** The log line of a request: method, route and id; never the address, port or headers. */
function requestSerializer(req: { id?: unknown; method?: string; url?: string }): { [key: string]: unknown; method?: string; url?: string } {
  return { id: req.id, method: req.method, url: req.url };
}

function parseTime(value: string | undefined, fallback: number): number | null {
  if (value === undefined || value === '') return fallback;
  if (/^\d{1,16}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

/** A step such as 600 (seconds), 10m, 1h or 1d, in ms. */
function parseStep(value: string | undefined): number | null {
  if (value === undefined || value === '') return 3_600_000;
  return /^\d{1,9}$/.test(value) ? Number(value) * 1000 : parseDuration(value);
}

/** Start the collector (not yet listening): open store and archive, catch the store up, build the API. */
export async function createCollector(config: CollectorConfig, deps: CollectorDeps): Promise<Collector> {
  const { clock } = deps;
  await mkdir(config.data_dir, { recursive: true });
  const targets = deps.targets ?? (await loadTargetList(config.targets_file));
  const store = Store.open(path.join(config.data_dir, 'store.sqlite'));
  let archive: Archive;
  try {
    archive = await Archive.open(path.join(config.data_dir, 'archive'), clock);
  } catch (err) {
    store.close();
    throw err;
  }
  const caughtUp = await catchUp(archive, store);
  const sinks = typeof deps.sinks === 'function' ? await deps.sinks({ archive, store, config, clock }) : (deps.sinks ?? []);
  const metrics = new Metrics();
  const enrollment = new Enrollment(config.enrollment_tokens);
  const tls = config.tls ? { cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) } : null;

  const logger =
    deps.log === false
      ? false
      : {
          level: deps.log?.level ?? 'info',
          stream: (deps.log?.stream ?? process.stdout) as NodeJS.WritableStream,
          serializers: {
            req: requestSerializer,
            res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
          },
        };

  const app = Fastify({
    logger,
    trustProxy: config.trust_proxy,
    bodyLimit: REGISTRATION_BODY_LIMIT,
    requestIdHeader: false,
    // A client that trickles a request is cut off (slow-loris); uploads are small.
    requestTimeout: 120_000,
    ...(tls ? { https: tls } : {}),
  }) as unknown as FastifyInstance;

  const lookup = (ip: string): AsnInfo | null => {
    if (deps.asnLookup === undefined) return null;
    try {
      return deps.asnLookup(ip);
    } catch {
      return null;
    }
  };

  const ingest = new Ingest({
    limits: config.limits,
    clock,
    store,
    archive,
    targets: targets.byId,
    metrics,
    ...(deps.asnLookup ? { lookup: deps.asnLookup } : {}),
    onArchived: (records, span) => {
      for (const sink of sinks) {
        if (sink.offer === undefined) continue;
        try {
          sink.offer(records, span.to, span.from);
        } catch (err) {
          app.log.warn({ err, sink: sink.name }, 'a sink failed to take a handoff');
          try {
            sink.notify();
          } catch {
            // it polls the archive anyway
          }
        }
      }
    },
    onAccepted: () => {
      for (const sink of sinks) {
        if (sink.offer !== undefined) continue; // handed the records already
        try {
          sink.notify();
        } catch (err) {
          app.log.warn({ err, sink: sink.name }, 'a sink failed to take a notification');
        }
      }
    },
    log: { warn: (o, m) => app.log.warn(o, m), error: (o, m) => app.log.error(o, m) },
  });

  const MEASUREMENTS = `${API_PREFIX}/measurements`;

  // The surge is set by `ashyq-collector surge` (another process) through surge.json; looked at per request.
  const surges = new SurgeWatcher({
    dataDir: config.data_dir,
    base: targets,
    clock,
    log: { info: (o, m) => app.log.info(o, m), error: (o, m) => app.log.error(o, m) },
  });
  metrics.setSurge(await surges.current());

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let status = err.statusCode ?? 500;
    let code: string;
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        code = 'too_large';
        status = 413;
        break;
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        code = 'unsupported_media_type';
        status = 415;
        break;
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        code = 'bad_json';
        status = 400;
        break;
      default:
        if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') {
          code = 'bad_json';
          status = 400;
        } else code = status >= 500 ? 'internal' : 'bad_request';
    }
    if (status >= 500) request.log.error({ err }, 'request failed');
    if (request.routeOptions.url === MEASUREMENTS) {
      metrics.countReject(code);
      metrics.countBatch('error');
    }
    void reply.code(status).send(errorBody(code, status >= 500 ? 'internal error' : err.message));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });

  // ── registration ────────────────────────────────────────────────────────────
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
    if (!enrollment.accepts(token)) return reply.code(403).send(errorBody('bad_token', 'the enrollment token is not valid'));
    let publicKey: string;
    try {
      const key = createPublicKey({ key: pem, format: 'pem' });
      if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
      publicKey = key.export({ type: 'spki', format: 'pem' }).toString();
    } catch {
      return reply.code(400).send(errorBody('bad_public_key', 'public_key: expected a PEM SubjectPublicKeyInfo of an Ed25519 key'));
    }
    const id = proposed ?? randomBytes(16).toString('base64url');
    const outcome = store.registerProbe(id, publicKey, new Date(clock.now()).toISOString());
    if (outcome === 'conflict') return reply.code(409).send(errorBody('probe_exists', 'this probe id is registered with another key'));
    const answer: RegistrationAnswer = { probe_id: id };
    return reply.code(outcome === 'created' ? 201 : 200).send(answer);
  });

  // ── measurements: the raw gzip body is kept for the signature ───────────────
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: config.limits.max_body_bytes }, (_req, body, done) => {
      done(null, body);
    });
    scope.post(MEASUREMENTS, { bodyLimit: config.limits.max_body_bytes }, async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const answer = await ingest.handle({ headers: request.headers, body, ip: request.ip });
      if (answer.headers) void reply.headers(answer.headers);
      return reply.code(answer.status).send(answer.body);
    });
  });

  // ── reading ─────────────────────────────────────────────────────────────────
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

  app.get(`${API_PREFIX}/series`, async (request, reply) => {
    const q = request.query as Record<string, string | undefined>;
    const bad = (message: string) => reply.code(400).send(errorBody('bad_query', message));
    const target = q['target'];
    if (target === undefined || target === '') return bad('target is required');
    if (!targets.byId.has(target)) return bad(`unknown target ${JSON.stringify(target).slice(0, 60)}`);
    let asn: number | null = null;
    if (q['asn'] !== undefined && q['asn'] !== '') {
      const raw = q['asn'].replace(/^AS/i, '');
      if (!/^\d{1,10}$/.test(raw) || Number(raw) > 4_294_967_295) return bad('asn: expected a number such as 9198 or AS9198');
      asn = Number(raw);
    }
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
      points: points.map((p) => ({ t: new Date(p.t).toISOString(), count: p.count, blocked: p.blocked, verdicts: p.verdicts })),
    });
  });

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
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render(sinks, store.probeCount()));
  });

  // Close (and compress) a finished day even when no upload arrives after midnight.
  const dayTimer = setInterval(() => {
    archive.rollover().catch((err: unknown) => app.log.error({ err }, 'archive: closing the day failed'));
  }, 60_000);
  dayTimer.unref();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(dayTimer);
      await app.close();
      await archive.close();
      store.close();
    })();
    return closing;
  };

  if (archive.recovered.length > 0) {
    app.log.warn({ recovered: archive.recovered }, 'archive: cut torn tails left by a crash (never acknowledged)');
  }
  return { app, close, archive, store, metrics, targets, surges, sinks, recovered: archive.recovered, caughtUp };
}
