// Test-side adapter: InfluxDB v2 `/api/v2/write` (token auth) on 127.0.0.1, forwarded to InfluxDB 1.x `/write?db=<bucket>`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface V2ToV1Adapter {
  url: string;
  /** Write requests received, and how each was answered. */
  readonly requests: Array<{ bucket: string | null; status: number }>;
  close(): Promise<void>;
}

export interface AdapterOptions {
  /** Base URL of the InfluxDB 1.x server (loopback). */
  upstream: string;
  /** The token expected in `Authorization: Token <token>`. */
  token: string;
}

/** v2 precision names → 1.x names. */
const PRECISION: Record<string, string> = { ns: 'ns', us: 'u', ms: 'ms', s: 's' };

function answerJson(res: http.ServerResponse, status: number, code: string, message: string): number {
  const body = JSON.stringify({ code, message });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return status;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, options: AdapterOptions): Promise<{ bucket: string | null; status: number }> {
  const url = new URL(req.url ?? '/', 'http://adapter');
  if (url.pathname === '/health' || url.pathname === '/ping') {
    res.writeHead(204).end();
    return { bucket: null, status: 204 };
  }
  if (url.pathname !== '/api/v2/write') return { bucket: null, status: answerJson(res, 404, 'not found', `no route ${url.pathname}`) };
  if (req.method !== 'POST') return { bucket: null, status: answerJson(res, 405, 'method not allowed', 'POST only') };
  const bucket = url.searchParams.get('bucket');
  if (req.headers.authorization !== `Token ${options.token}`) {
    await readBody(req);
    return { bucket, status: answerJson(res, 401, 'unauthorized', 'unauthorized access') };
  }
  if (bucket === null || bucket === '' || (url.searchParams.get('org') ?? '') === '') {
    await readBody(req);
    return { bucket, status: answerJson(res, 400, 'invalid', 'org and bucket are required') };
  }
  const precision = PRECISION[url.searchParams.get('precision') ?? 'ns'];
  if (precision === undefined) {
    await readBody(req);
    return { bucket, status: answerJson(res, 400, 'invalid', 'precision must be ns, us, ms or s') };
  }
  const body = await readBody(req);
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  const encoding = req.headers['content-encoding'];
  if (typeof encoding === 'string') headers['content-encoding'] = encoding;
  let upstream: Response;
  try {
    upstream = await fetch(`${options.upstream}/write?${new URLSearchParams({ db: bucket, precision }).toString()}`, {
      method: 'POST',
      headers,
      body: Uint8Array.from(body),
    });
  } catch (err) {
    return { bucket, status: answerJson(res, 503, 'unavailable', `upstream: ${(err as Error).message}`) };
  }
  const text = await upstream.text();
  if (upstream.status === 204) {
    res.writeHead(204).end();
    return { bucket, status: 204 };
  }
  // 1.x answers {"error": "..."}; v2 clients expect {"code", "message"}.
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    // not JSON: pass the text on
  }
  return { bucket, status: answerJson(res, upstream.status, upstream.status >= 500 ? 'internal error' : 'invalid', message) };
}

/** Start the adapter on a free port of 127.0.0.1. */
export function startV2ToV1Adapter(options: AdapterOptions): Promise<V2ToV1Adapter> {
  const requests: Array<{ bucket: string | null; status: number }> = [];
  const server = http.createServer((req, res) => {
    handle(req, res, options).then(
      (result) => {
        if (result.bucket !== null || result.status !== 204) requests.push(result);
      },
      (err: unknown) => {
        if (!res.headersSent) answerJson(res, 500, 'internal error', String(err));
        else res.destroy();
        requests.push({ bucket: null, status: 500 });
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
