// The collector's HTTP server (fastify): request logging without addresses, TLS, and one error and not-found mapping for every route.
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ErrorAnswer } from '../../contract/wire.js';

export const REGISTRATION_BODY_LIMIT = 16 * 1024;

/**
 * Bounds on connections, so that silent or idle sockets cannot use up the collector's file
 * descriptors: a connection over a bound is closed as soon as it is accepted.
 */
export const CONNECTION_LIMITS = {
  /** Open connections in all. */
  total: 4096,
  /** Open connections from one source address (not applied behind a proxy: every connection is then the proxy's). */
  perAddress: 64,
  /** A connection that sends nothing for this long is closed (a request sends its headers at once). */
  idleMs: 15_000,
  /** Headers of a request must have arrived within this long. */
  headersMs: 10_000,
  /** A keep-alive connection waits this long for the next request. */
  keepAliveMs: 5_000,
};

export interface ServerLog {
  /** Where pino writes JSON lines (default: stdout). */
  stream?: { write(line: string): unknown };
  level?: string;
}

export interface ServerOptions {
  /** Logging; false = silent. */
  log: ServerLog | false | undefined;
  trustProxy: boolean;
  tls: { cert: Buffer; key: Buffer } | null;
  /** Called for every error answered on a route (e.g. to count rejected uploads). */
  onError?: (request: FastifyRequest, code: string) => void;
}

export function errorBody(code: string, message: string): ErrorAnswer {
  return { error: { code, message } };
}

/** The log line of a request: method, path and id; never the address, port, headers or query string (it may name a probe). */
function requestSerializer(req: { id?: unknown; method?: string; url?: string }): { [key: string]: unknown; method?: string; url?: string } {
  return { id: req.id, method: req.method, url: req.url?.split('?')[0] };
}

/** fastify's own error codes as our answers: a status and a stable code. */
function answerFor(err: FastifyError): { status: number; code: string } {
  const status = err.statusCode ?? 500;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'too_large' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'unsupported_media_type' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'bad_json' };
    default:
      if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return { status: 400, code: 'bad_json' };
      return { status, code: status >= 500 ? 'internal' : 'bad_request' };
  }
}

/**
 * Close connections over the bounds at once, and give every connection a deadline for its headers.
 * Addresses are counted in memory only, never written.
 */
function boundConnections(app: FastifyInstance, behindProxy: boolean): void {
  const server = app.server;
  server.maxConnections = CONNECTION_LIMITS.total;
  server.headersTimeout = CONNECTION_LIMITS.headersMs;
  const open = new Map<string, number>();
  server.prependListener('connection', (socket: Socket) => {
    if (behindProxy) return;
    const address = socket.remoteAddress ?? '';
    const count = (open.get(address) ?? 0) + 1;
    if (count > CONNECTION_LIMITS.perAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** A fastify instance with the collector's logging, limits and error answers; routes are registered by the caller. */
export function createServer(options: ServerOptions): FastifyInstance {
  const logger =
    options.log === false
      ? false
      : {
          level: options.log?.level ?? 'info',
          stream: (options.log?.stream ?? process.stdout) as NodeJS.WritableStream,
          serializers: {
            req: requestSerializer,
            res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
          },
        };
  const app = Fastify({
    logger,
    trustProxy: options.trustProxy,
    bodyLimit: REGISTRATION_BODY_LIMIT,
    requestIdHeader: false,
    // A client that trickles a request is cut off (slow-loris); uploads are small.
    requestTimeout: 120_000,
    connectionTimeout: CONNECTION_LIMITS.idleMs,
    keepAliveTimeout: CONNECTION_LIMITS.keepAliveMs,
    ...(options.tls ? { https: options.tls } : {}),
  }) as unknown as FastifyInstance;
  boundConnections(app, options.trustProxy);

  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const { status, code } = answerFor(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    options.onError?.(request, code);
    void reply.code(status).send(errorBody(code, status >= 500 ? 'internal error' : err.message));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
  return app;
}
