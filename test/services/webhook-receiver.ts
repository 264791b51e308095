// A webhook receiver on 127.0.0.1 that verifies the signature as docs/api.md tells receivers to, records every request and answers `answer` (default 204).
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  seq: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  signatureValid: boolean;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  answer: (r: Received) => number = () => 204;
  private server: http.Server | null = null;
  port = 0;

  private constructor(private readonly secret: string) {}

  static async start(secret: string): Promise<WebhookReceiver> {
    const r = new WebhookReceiver(secret);
    await r.listen();
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/ashyq`;
  }

  /** Accepted deliveries' seqs, in arrival order. */
  accepted(): number[] {
    return this.received.filter((r) => r.signatureValid && this.statusOf(r) < 300).map((r) => r.seq);
  }

  private statuses = new Map<Received, number>();
  private statusOf(r: Received): number {
    return this.statuses.get(r) ?? 0;
  }

  listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const timestamp = String(req.headers['x-ashyq-timestamp'] ?? '');
        const expected = Buffer.from(`sha256=${createHmac('sha256', this.secret).update(`${timestamp}.${raw}`).digest('hex')}`);
        const given = Buffer.from(String(req.headers['x-ashyq-signature'] ?? ''));
        const signatureValid = given.length === expected.length && timingSafeEqual(given, expected);
        const r: Received = { seq: Number(req.headers['x-ashyq-event-seq']), headers: req.headers, body: JSON.parse(raw) as Record<string, unknown>, signatureValid };
        this.received.push(r);
        const status = signatureValid ? this.answer(r) : 401;
        this.statuses.set(r, status);
        res.writeHead(status, { connection: 'close' }).end(status >= 300 ? 'no' : '');
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

  /** Stop answering (connections refused) until listen() again. */
  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
