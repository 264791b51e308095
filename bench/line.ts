// Benchmark: the false-block rate on a volunteer's bad line, in the censored lab (needs root and the lab's Debian packages).
// Random packet loss on the client's link (iptables statistic, each way) and the four captive-portal variants, each
// measured by the real `ashyq-probe run --once` with the shipped step bounds until at least --measurements target
// measurements are taken; the censor itself is honest, so every block is a false one. Prints per condition the
// measurements, the blocks (and their highest confidence), the inconclusive and offline counts, and the mean run time.
// Goals: ≤ 1 % blocks at 10 % loss, ≤ 5 % at 30 %, 0 % behind a portal.
// Usage: npx tsx bench/line.ts [--measurements 200] [--only loss-10,portal-dns]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isBlocked } from '../contract/verdict.js';
import type { PortalVariant } from '../test/lab/censor.js';
import { DEFAULT_TIMING } from '../test/lab/config-files.js';
import { Lab, labSupport, removeStaleLab } from '../test/lab/lab.js';

const { values } = parseArgs({ options: { measurements: { type: 'string', default: '200' }, only: { type: 'string' } } });
const wanted = Number(values.measurements);

interface Condition {
  name: string;
  loss?: number;
  portal?: PortalVariant;
  goal: number;
}
const CONDITIONS: Condition[] = [
  { name: 'loss-10', loss: 0.1, goal: 0.01 },
  { name: 'loss-30', loss: 0.3, goal: 0.05 },
  { name: 'portal-refused', portal: 'refused', goal: 0 },
  { name: 'portal-dropped', portal: 'dropped', goal: 0 },
  { name: 'portal-dns', portal: 'dns', goal: 0 },
  { name: 'portal-login', portal: 'login', goal: 0 },
];
const only = values.only?.split(',');
const conditions = CONDITIONS.filter((c) => only === undefined || only.includes(c.name));

const support = await labSupport();
if (!support.ok) {
  console.error(`bench/line: the lab cannot be built here: ${support.why}`);
  process.exit(2);
}
await removeStaleLab();
const dir = await mkdtemp(join(tmpdir(), 'ashyq-bench-line-'));
const lab = new Lab(dir);
try {
  await lab.up();
  const config = await lab.writeProbeConfig('probe-default-timing', DEFAULT_TIMING);
  console.log(`bench/line: the real probe in the lab with the shipped step bounds (timeout ${DEFAULT_TIMING.timeoutMs} ms); ≥ ${wanted} target measurements per condition`);
  for (const c of conditions) {
    await lab.clearCensor();
    await lab.lineLoss(0);
    if (c.portal !== undefined) await lab.censor.portal(c.portal);
    if (c.loss !== undefined) await lab.lineLoss(c.loss);
    let total = 0;
    let runs = 0;
    let ms = 0;
    let remeasured = 0;
    const counts = { blocked: 0, inconclusive: 0, offline: 0, ok: 0 };
    let maxBlockConfidence = 0;
    const blocks = new Map<string, number>();
    while (total < wanted) {
      const r = await lab.probe([], config);
      if (r.code !== 0) throw new Error(`ashyq-probe exited with ${r.code}: ${r.stderr}`);
      runs++;
      ms += r.elapsedMs;
      for (const m of r.measurements) {
        total++;
        if (m.evidence.first !== undefined) remeasured++;
        const v = m.verdict.verdict;
        if (isBlocked(v)) {
          counts.blocked++;
          maxBlockConfidence = Math.max(maxBlockConfidence, m.verdict.confidence);
          blocks.set(v, (blocks.get(v) ?? 0) + 1);
        } else counts[v as 'ok' | 'inconclusive' | 'offline']++;
      }
    }
    const share = counts.blocked / total;
    const kinds = [...blocks].map(([v, n]) => `${n} ${v}`).join(', ');
    console.log(
      `  ${c.name.padEnd(15)} ${total} measurements in ${runs} runs (${(ms / runs / 1000).toFixed(1)} s a run): ` +
        `${counts.blocked} blocked = ${(share * 100).toFixed(2)} % (goal ≤ ${(c.goal * 100).toFixed(0)} %)${kinds !== '' ? ` [${kinds}; confidence ≤ ${maxBlockConfidence}]` : ''}, ` +
        `${counts.inconclusive} inconclusive, ${counts.offline} offline, ${counts.ok} ok; ${remeasured} measured twice`,
    );
  }
} finally {
  await lab.lineLoss(0).catch(() => {});
  await lab.down();
  await rm(dir, { recursive: true, force: true });
}
