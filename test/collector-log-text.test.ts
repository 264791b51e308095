// The collector's log on a terminal (serve --log text): one short line per request, none for a healthy health check or a request's start, errors without stacks.
import { afterEach, describe, expect, it } from 'vitest';
import { textLine, textLogStream } from '../collector/cli/log-text.js';
import { request, startCollector, type RunningCollector } from './fixtures/collector/helpers.js';

const running: RunningCollector[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.dispose();
});

describe('the collector log as text', () => {
  it('turns pino lines into short ones and leaves out the noise', () => {
    const t = Date.UTC(2024, 4, 9, 7, 2, 3);
    const at = (() => {
      const d = new Date(t);
      return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
    })();
    expect(textLine(JSON.stringify({ level: 30, time: t, msg: 'incoming request', req: { method: 'GET', url: '/x' } }))).toBeNull();
    expect(textLine(JSON.stringify({ level: 30, time: t, msg: 'request completed', req: { method: 'GET', url: '/healthz' }, res: { statusCode: 200 } }))).toBeNull();
    expect(textLine(JSON.stringify({ level: 30, time: t, msg: 'request completed', req: { method: 'GET', url: '/healthz' }, res: { statusCode: 503 }, responseTime: 1.2 }))).toBe(`${at}  GET /healthz 503 1 ms`);
    expect(textLine(JSON.stringify({ level: 30, time: t, msg: 'request completed', req: { method: 'POST', url: '/api/v1/measurements' }, res: { statusCode: 200 }, responseTime: 12.4 }))).toBe(`${at}  POST /api/v1/measurements 200 12 ms`);
    expect(textLine(JSON.stringify({ level: 50, time: t, msg: 'request failed', err: { message: 'boom', stack: 'Error: boom\n    at x' } }))).toBe(`${at}  ERROR: request failed: boom`);
    expect(textLine(JSON.stringify({ level: 40, time: t, msg: 'registration with a shared enrollment token' }))).toBe(`${at}  WARNING: registration with a shared enrollment token`);
    expect(textLine('not json')).toBe('not json');
  });

  it('a running collector with the text log writes one line per request', async () => {
    const lines: string[] = [];
    const c = await startCollector({ deps: { log: { level: 'info', stream: textLogStream({ write: (s: string) => (lines.push(s), true) }) } } });
    running.push(c);
    expect((await request(`${c.url}/healthz`)).status).toBe(200);
    expect((await request(`${c.url}/api/v1/targets`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    const requests = lines.filter((l) => / (GET|POST) /.test(l));
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatch(/^\d\d:\d\d:\d\d {2}GET \/api\/v1\/targets 200 \d+ ms\n$/);
    expect(lines.some((l) => l.trimStart().startsWith('{'))).toBe(false);
  });
});
