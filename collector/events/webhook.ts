// The event webhook: every revision POSTed as signed JSON to the operator's URL, one request per revision, through the outbox.
import { createHmac } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import type { SendOutcome } from './outbox.js';
import type { BlockingEvent, Revision } from './types.js';

export const SEQ_HEADER = 'x-ashyq-event-seq';
export const TIMESTAMP_HEADER = 'x-ashyq-timestamp';
export const SIGNATURE_HEADER = 'x-ashyq-signature';

/** What the receiver gets: the revision with its times in ISO 8601 UTC. */
export interface WebhookPayload {
  seq: number;
  type: Revision['type'];
  event_id: string;
  revision: number;
  at: string;
  changes: Record<string, { from: unknown; to: unknown }>;
  event: Omit<BlockingEvent, 'start' | 'end'> & { start: string; end: string | null };
}

export interface WebhookOptions {
  url: string;
  secret: string;
  clock: Clock;
  /** The network (global fetch by default). */
  fetch?: typeof fetch;
  /** Per-request timeout. Default 10 000 ms. */
  timeoutMs?: number;
}

/** Fields of an event (and of its changes) that hold times. */
const TIME_FIELDS = new Set(['start', 'end']);

function iso(ms: unknown): unknown {
  return typeof ms === 'number' && Number.isFinite(ms) ? new Date(ms).toISOString() : ms;
}

export function webhookPayload(r: Revision): WebhookPayload {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const [field, change] of Object.entries(r.changes)) {
    if (change === undefined) continue;
    changes[field] = TIME_FIELDS.has(field) ? { from: iso(change.from), to: iso(change.to) } : change;
  }
  const e = r.event;
  return {
    seq: r.seq,
    type: r.type,
    event_id: r.event_id,
    revision: r.revision,
    at: new Date(r.at).toISOString(),
    changes,
    event: { ...e, start: new Date(e.start).toISOString(), end: e.end === null ? null : new Date(e.end).toISOString() },
  };
}

/** `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>` under the secret. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Seconds of a Retry-After header (delta-seconds or an HTTP date) in ms, or null. */
function retryAfterMs(value: string | null, now: number): number | null {
  if (value === null) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** What an answer means: 2xx delivered; 4xx refused except 408 and 429; anything else retried. */
export function webhookOutcome(status: number, detail: string, retryAfter: number | null): SendOutcome {
  if (status >= 200 && status < 300) return { ok: true };
  const message = `HTTP ${status}${detail === '' ? '' : `: ${detail}`}`;
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { ok: false, retry: false, message };
  return { ok: false, retry: true, message, retryAfterMs: retryAfter };
}

/** POSTs revisions to the webhook URL; a batch is sent one revision after the other, stopping at the first failure. */
export class Webhook {
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly o: WebhookOptions) {
    this.fetch = o.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  /** For the outbox (with batchSize 1: a resend after a partial batch would repeat the delivered ones). */
  readonly send = async (revisions: readonly Revision[]): Promise<SendOutcome> => {
    for (const r of revisions) {
      const outcome = await this.post(r);
      if (!outcome.ok) return outcome;
    }
    return { ok: true };
  };

  async post(r: Revision): Promise<SendOutcome> {
    const body = JSON.stringify(webhookPayload(r));
    const timestamp = String(Math.floor(this.o.clock.now() / 1000));
    let res: Response;
    try {
      res = await this.fetch(this.o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SEQ_HEADER]: String(r.seq),
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: webhookSignature(this.o.secret, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
      const cause = e.cause?.code ?? e.cause?.message;
      return { ok: false, retry: true, message: `${String(e.message ?? err)}${cause === undefined ? '' : ` (${String(cause)})`}` };
    }
    let detail = '';
    try {
      detail = (await res.text()).trim().slice(0, 200);
    } catch {
      // the answer's status is what counts
    }
    return webhookOutcome(res.status, detail, retryAfterMs(res.headers.get('retry-after'), this.o.clock.now()));
  }
}
