// One InfluxDB v2 write request through @influxdata/influxdb-client's WriteApi, answered as data: acknowledged or why not.
import { HttpError, InfluxDB, type WriteApi } from '@influxdata/influxdb-client';

export interface InfluxTarget {
  /** Base URL of a server speaking the InfluxDB v2 write API (InfluxDB 2.x/3.x, VictoriaMetrics, ...). */
  url: string;
  token: string;
  org: string;
  bucket: string;
  /** Per-request timeout. */
  timeoutMs: number;
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
  write(lines: string[]): Promise<WriteOutcome>;
}

const CONFIG_STATUSES = new Set([401, 403, 404]);

/** Map whatever the client raised onto an outcome. */
export function writeFailure(err: unknown): Extract<WriteOutcome, { ok: false }> {
  if (err instanceof HttpError) {
    const status = err.statusCode;
    const retry = status === 429 || status >= 500 || CONFIG_STATUSES.has(status);
    const retryAfterSeconds = err.retryAfter(); // the client parses Retry-After as whole seconds (0 when absent)
    const detail = typeof err.json?.message === 'string' ? (err.json.message as string) : (err.body ?? err.message);
    return {
      ok: false,
      kind: retry ? 'retry' : 'rejected',
      status,
      message: `HTTP ${status}: ${String(detail).slice(0, 500)}`,
      retryAfterMs: retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : null,
    };
  }
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
 * durable archive.
 */
export class InfluxWriter implements LineWriter {
  private readonly client: InfluxDB;

  constructor(private readonly target: InfluxTarget) {
    this.client = new InfluxDB({ url: target.url, token: target.token, timeout: target.timeoutMs });
  }

  private api(lines: number): WriteApi {
    return this.client.getWriteApi(this.target.org, this.target.bucket, 'ns', {
      batchSize: lines + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: 0,
      // Returning a promise makes it the flush's result: no retry scheduling and no console logging.
      writeFailed: (error: Error) => Promise.reject(error),
      writeSuccess: () => undefined,
      writeRetrySkipped: () => undefined,
    });
  }

  async write(lines: string[]): Promise<WriteOutcome> {
    if (lines.length === 0) return { ok: true };
    const api = this.api(lines.length);
    try {
      api.writeRecords(lines);
      await api.flush();
      return { ok: true };
    } catch (err) {
      return writeFailure(err);
    } finally {
      api.dispose();
    }
  }
}
