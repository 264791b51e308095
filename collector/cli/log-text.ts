// The collector's log for a person at a terminal: pino's JSON lines turned into one short line each, health checks and the request's start left out, no stack traces.
import type { Output } from './output.js';

/** Requests a monitor makes all day: not worth a line when they succeed. */
const QUIET_PATHS = new Set(['/healthz', '/metrics']);

function clockTime(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * One readable line for one of pino's JSON lines, or null to leave it out. fastify names the method
 * and path on a request's first line only: `pending` carries them (by request id) to its last.
 */
export function textLine(json: string, pending: Map<unknown, { method?: string; url?: string }> = new Map()): string | null {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const level = typeof o['level'] === 'number' ? o['level'] : 30;
  const time = clockTime(typeof o['time'] === 'number' ? o['time'] : Date.now());
  const mark = level >= 50 ? 'ERROR: ' : level >= 40 ? 'WARNING: ' : '';
  const msg = typeof o['msg'] === 'string' ? o['msg'] : '';
  const req = o['req'] as { method?: string; url?: string } | undefined;
  const res = o['res'] as { statusCode?: number } | undefined;
  if (msg === 'incoming request') {
    if (req !== undefined) pending.set(o['reqId'], req);
    return null;
  }
  if (msg === 'request completed') {
    const started = pending.get(o['reqId']);
    pending.delete(o['reqId']);
    const r = req ?? started;
    const status = res?.statusCode ?? 0;
    if (status < 400 && QUIET_PATHS.has(r?.url ?? '')) return null;
    const ms = typeof o['responseTime'] === 'number' ? ` ${Math.round(o['responseTime'])} ms` : '';
    return `${time}  ${mark}${r?.method ?? '?'} ${r?.url ?? '?'} ${status}${ms}`;
  }
  const err = o['err'] as { message?: string } | undefined;
  const why = err?.message !== undefined ? `: ${err.message}` : '';
  return `${time}  ${mark}${msg}${why}`;
}

/** A stream for pino that writes textLine of each line it gets to `out`. */
export function textLogStream(out: Output): { write(line: string): boolean } {
  let rest = '';
  const pending = new Map<unknown, { method?: string; url?: string }>();
  return {
    write(chunk: string) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        if (l.trim() === '') continue;
        const t = textLine(l, pending);
        if (t !== null) out.write(`${t}\n`);
      }
      return true;
    },
  };
}
