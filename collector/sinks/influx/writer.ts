// One InfluxDB v2 write request through @influxdata/influxdb-client's WriteApi (keep-alive, optionally gzipped), answered as data: acknowledged or why not.
import http from 'node:http';
import https from 'node:https';
import { HttpError, InfluxDB, type WriteApi } from '@influxdata/influxdb-client';

export interface InfluxTarget {
  /** Base URL of a server speaking the InfluxDB v2 write API (InfluxDB 2.x/3.x, VictoriaMetrics, ...); a path prefix is kept. */
  url: string;
  token: string;
  org: string;
  bucket: string;
  /** Per-request timeout (no answer, or a stalled socket, for this long). */
  timeoutMs: number;
  /** Compress request bodies (content-encoding: gzip, fastest level). Default false. */
  gzip?: boolean;
  /** Most keep-alive connections (and so requests at once). Default 4. */
  connections?: number;
}

export type WriteOutcome =
  | { ok: true }
  | {
      ok: false;
      /**
       * 'retry': the server was unreachable, timed out, overloaded (429, 5xx) or refused our
       * credentials or bucket (401, 403, 404: fixable by an operator, so the data is kept and retried).
       * 'rejected': the server refused the data itself (400, 413, 422, ...): resending it unchanged
       * will not help.
       */
      kind: 'retry' | 'rejected';
      status: number | null;
      message: string;
      /** Server's Retry-After in ms, when it sent one. */
      retryAfterMs: number | null;
    };

export interface LineWriter {
  /** Send lines in one request; resolves (never rejects) once the server answered or the request failed. */
  write(lines: readonly string[]): Promise<WriteOutcome>;
  /** Let go of idle connections (a later write opens new ones). */
  close?(): void;
}

const CONFIG_STATUSES = new Set([401, 403, 404]);
/** Bodies smaller than this go uncompressed: gzip would cost more than it saves. */
const GZIP_MIN_BYTES = 1024;

/** The outcome of a non-2xx answer: what to do, and the server's message (from its JSON body when it sent one). */
export function statusFailure(status: number, body: string, retryAfter: number | null): Extract<WriteOutcome, { ok: false }> {
  const retry = status === 429 || status >= 500 || CONFIG_STATUSES.has(status);
  let detail = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown };
    if (typeof parsed.message === 'string') detail = parsed.message;
    else if (typeof parsed.error === 'string') detail = parsed.error;
  } catch {
    // not JSON: the text itself
  }
  return {
    ok: false,
    kind: retry ? 'retry' : 'rejected',
    status,
    message: `HTTP ${status}: ${detail.trim().slice(0, 500)}`,
    retryAfterMs: retryAfter !== null && retryAfter > 0 ? retryAfter : null,
  };
}

/** A request that got no answer (refused, reset, timed out): always worth retrying. */
export function transportFailure(err: unknown): Extract<WriteOutcome, { ok: false }> {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? `${e.code}: ` : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return { ok: false, kind: 'retry', status: null, message: `${code}${message}`, retryAfterMs: null };
}

/**
 * Writes with the client's WriteApi configured so that it keeps nothing of its own: no timer
 * flushes, no internal retries, no retry buffer (which drops lines when full). Each call makes a
 * WriteApi whose batch is exactly the given lines and awaits `flush()`, which resolves only on the
 * server's 2xx. Retrying, and remembering what is unwritten, is the sink's job: it does so from the
 * durable archive. Connections are kept alive across calls through the client's transport options.
 */
export class InfluxWriter implements LineWriter {
  private readonly client: InfluxDB;
  private readonly agent: http.Agent;

  constructor(private readonly target: InfluxTarget) {
    const connections = Math.max(1, Math.floor(target.connections ?? 4));
    const options = { keepAlive: true, maxSockets: connections, maxFreeSockets: connections, scheduling: 'lifo' as const };
    this.agent = new URL(target.url).protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
    this.client = new InfluxDB({ url: target.url, token: target.token, timeout: target.timeoutMs, transportOptions: { agent: this.agent } });
  }

  private api(lines: number): WriteApi {
    return this.client.getWriteApi(this.target.org, this.target.bucket, 'ns', {
      batchSize: lines + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: 0,
      gzipThreshold: this.target.gzip === true ? GZIP_MIN_BYTES : Number.MAX_SAFE_INTEGER,
      // Returning a promise makes it the flush's result: no retry scheduling and no console logging.
      writeFailed: (error: Error) => Promise.reject(error),
      writeSuccess: () => undefined,
      writeRetrySkipped: () => undefined,
    });
  }

  async write(lines: readonly string[]): Promise<WriteOutcome> {
    if (lines.length === 0) return { ok: true };
    const api = this.api(lines.length);
    try {
      api.writeRecords(lines as string[]);
      await api.flush();
      return { ok: true };
    } catch (err) {
      if (err instanceof HttpError) {
        const detail = typeof err.json?.message === 'string' ? (err.json.message as string) : (err.body ?? err.message);
        const seconds = err.retryAfter(); // whole seconds, 0 when absent
        return statusFailure(err.statusCode, String(detail), seconds > 0 ? seconds * 1000 : null);
      }
      return transportFailure(err);
    } finally {
      void api.dispose();
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
