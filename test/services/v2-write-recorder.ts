// A scriptable InfluxDB v2 write endpoint on 127.0.0.1 that records what it receives, for the sink's failure-path tests.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface RecordedWrite {
  org: string | null;
  bucket: string | null;
  precision: string | null;
  authorization: string | undefined;
  lines: string[];
  /** Date.now() when the request arrived (the fake clock when timers are faked). */
  at: number;
  status: number;
}

/** What to answer a write: a status (2xx = acknowledged) and an optional body / Retry-After. */
export type WriteScript = (write: Omit<RecordedWrite, 'status'>, index: number) => { status: number; body?: string; retryAfter?: number };

export class V2WriteRecorder {
  readonly writes: RecordedWrite[] = [];
  script: WriteScript = () => ({ status: 204 });
  private server: http.Server | null = null;

  private constructor(public port: number) {}

  static async start(): Promise<V2WriteRecorder> {
    const recorder = new V2WriteRecorder(0);
    await recorder.listen();
    return recorder;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Lines of every acknowledged write, in arrival order. */
  acknowledgedLines(): string[] {
    return this.writes.filter((w) => w.status >= 200 && w.status < 300).flatMap((w) => w.lines);
  }

  /** Listen (again) on the same port; the first call picks a free one. */
  listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://recorder');
        if (url.pathname !== '/api/v2/write' || req.method !== 'POST') {
          res.writeHead(404).end();
          return;
        }
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const write = {
          org: url.searchParams.get('org'),
          bucket: url.searchParams.get('bucket'),
          precision: url.searchParams.get('precision'),
          authorization: req.headers.authorization,
          lines: body.toString('utf8').split('\n').filter((l) => l !== ''),
          at: Date.now(),
        };
        const answer = this.script(write, this.writes.length);
        this.writes.push({ ...write, status: answer.status });
        const headers: Record<string, string> = {};
        if (answer.retryAfter !== undefined) headers['retry-after'] = String(answer.retryAfter);
        if (answer.body !== undefined) headers['content-type'] = 'application/json';
        res.writeHead(answer.status, headers).end(answer.body);
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Stop listening (connections are refused until `listen()`). */
  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  }
}
