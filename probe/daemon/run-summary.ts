// One line for a finished run: how many targets, how long, the verdicts, and which targets got each verdict that is not ok.
import type { Measurement } from '../../contract/measurement.js';

/** e.g. `run: 27 targets in 8.2 s: 25 ok, 2 tls.reset (youtube, instagram); 27 spooled for upload`. */
export function runSummary(measurements: readonly Measurement[], ms: number, spooled: number): string {
  const byVerdict = new Map<string, string[]>();
  for (const m of measurements) {
    const list = byVerdict.get(m.verdict.verdict);
    if (list === undefined) byVerdict.set(m.verdict.verdict, [m.target.id]);
    else list.push(m.target.id);
  }
  const parts = [...byVerdict.entries()]
    .sort((a, b) => (a[0] === 'ok' ? -1 : b[0] === 'ok' ? 1 : b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1)))
    .map(([verdict, targets]) => {
      if (verdict === 'ok') return `${targets.length} ok`;
      const named = targets.length <= 6 ? targets.join(', ') : `${targets.slice(0, 5).join(', ')} and ${targets.length - 5} more`;
      return `${targets.length} ${verdict} (${named})`;
    });
  return `run: ${measurements.length} target${measurements.length === 1 ? '' : 's'} in ${(ms / 1000).toFixed(1)} s: ${parts.join(', ') || 'nothing measured'}; ${spooled} spooled for upload`;
}
