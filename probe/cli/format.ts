// Human-readable lines for the command line: one per target with its verdict and per-layer timing.
import type { Measurement } from '../../contract/measurement.js';

function ms(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(1)}s` : `${Math.round(n)}ms`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** What kind of subject a name is: a fixed endpoint "ip:port", an address of a domain "domain ip:port", or a domain. */
function unitOf(subject: string): { kind: 'endpoints' | 'addresses' | 'domains'; unit: string } {
  const address = /^(\S+) (\S+)$/.exec(subject);
  if (address !== null) return { kind: 'addresses', unit: address[2] ?? subject };
  const endpoint = /^(\[[^\]]+\]|\d+\.\d+\.\d+\.\d+):\d+$/.exec(subject);
  if (endpoint !== null) return { kind: 'endpoints', unit: endpoint[1] ?? subject };
  return { kind: 'domains', unit: subject };
}

/**
 * For a partial verdict, "3 of 5 endpoints: tcp.timeout" (an endpoint counts once over its ports;
 * it is failing when any of its ports showed the verdict); null for a full one.
 */
export function partialSummary(d: Measurement['verdict']): string | null {
  if (d.scope !== 'partial') return null;
  const failing = [...new Set(d.subjects.map((s) => unitOf(s).unit))];
  const working = [...new Set((d.working ?? []).map((s) => unitOf(s).unit))].filter((u) => !failing.includes(u));
  const kinds = new Set([...d.subjects, ...(d.working ?? [])].map((s) => unitOf(s).kind));
  const noun = kinds.size === 1 ? [...kinds][0] : 'subjects';
  return `${failing.length} of ${failing.length + working.length} ${noun}: ${d.verdict}`;
}

/** One line per measurement: target, verdict, time per layer and (when not ok) the reason, shortened (--json has it whole). */
export function formatLine(m: Measurement): string {
  const t = m.timing;
  const layers = `dns ${ms(t.dns).padStart(6)}  tcp ${ms(t.tcp).padStart(6)}  tls ${ms(t.tls).padStart(6)}  http ${ms(t.http).padStart(6)}`;
  const v = m.verdict;
  const partial = partialSummary(v);
  const why = v.verdict === 'ok' ? '' : `  ${partial !== null ? `${partial} — ` : ''}${shorten(v.reason, 160)}`;
  return `${m.target.id.padEnd(22)} ${v.verdict.padEnd(17)} ${layers}${why}`;
}

export function formatHeader(): string {
  return `${'target'.padEnd(22)} ${'verdict'.padEnd(17)} time per layer`;
}

export function formatSummary(ms: Measurement[]): string {
  const counts = new Map<string, number>();
  for (const m of ms) counts.set(m.verdict.verdict, (counts.get(m.verdict.verdict) ?? 0) + 1);
  const parts = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([v, n]) => `${n} ${v}`);
  return `${ms.length} targets: ${parts.join(', ')}`;
}
