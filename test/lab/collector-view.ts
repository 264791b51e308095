// What the lab's collector kept, read the way an analyst would: its archive, its series API, and the time series in its database.
import { join } from 'node:path';
import { Archive, type ArchivedRecord } from '../../collector/storage/archive.js';
import { systemClock } from '../../common/clock.js';
import { parseExport, type ExportedSeries } from '../services/victoria-metrics.js';
import { LabCommandError, runIn } from './shell.js';
import { LAB_TSDB, NS } from './topology.js';

/** Every record in the collector's archive (read-only, up to what it has made durable). */
export async function archivedRecords(collectorDataDir: string): Promise<ArchivedRecord[]> {
  const archive = await Archive.open(join(collectorDataDir, 'archive'), systemClock, { readonly: true });
  const out: ArchivedRecord[] = [];
  try {
    for await (const { record } of archive.read()) out.push(record);
  } finally {
    await archive.close();
  }
  return out;
}

/**
 * Raw samples of every series matching `match` in the collector's time-series database. The
 * database listens on the internet host's loopback only, so the request is made from there.
 */
export async function tsdbExport(match: string): Promise<ExportedSeries[]> {
  const base = `http://${LAB_TSDB.ip}:${LAB_TSDB.port}`;
  const script =
    'const [base, match] = process.argv.slice(1);' +
    ' const flush = await fetch(base + "/internal/force_flush"); await flush.arrayBuffer();' +
    ' const r = await fetch(base + "/api/v1/export", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },' +
    ' body: new URLSearchParams({ "match[]": match, start: "0" }).toString() });' +
    ' const text = await r.text(); if (!r.ok) { console.error("HTTP " + r.status + ": " + text); process.exit(1); }' +
    ' process.stdout.write(text);';
  const r = await runIn(NS.internet, process.execPath, ['--input-type=module', '-e', script, base, match], { allowFailure: true, timeoutMs: 15_000 });
  if (r.code !== 0) throw new LabCommandError(`export ${match} from the lab's VictoriaMetrics`, `exit ${r.code}`, r.stderr);
  return parseExport(r.stdout);
}

/** One `reachability` point of a target as the collector wrote it: when, which verdict, blocked or not. */
export interface ReachabilityPoint {
  at: number;
  verdict: string;
  layer: string;
  asn: string;
  blocked: number;
}

/** The `reachability` points of one target in the time-series database, in time order. */
export async function reachabilityPoints(target: string): Promise<ReachabilityPoint[]> {
  const series = await tsdbExport(`{__name__="reachability_blocked", target="${target}"}`);
  const points: ReachabilityPoint[] = [];
  for (const s of series) {
    s.timestamps.forEach((at, i) => {
      points.push({ at, verdict: s.metric['verdict'] ?? '', layer: s.metric['layer'] ?? '', asn: s.metric['asn'] ?? '', blocked: s.values[i] ?? NaN });
    });
  }
  return points.sort((a, b) => a.at - b.at);
}

/** The answer of `GET /api/v1/series` (docs/api.md). */
export interface SeriesAnswer {
  target: string;
  asn: number | null;
  from: string;
  to: string;
  step_s: number;
  points: Array<{ t: string; count: number; blocked: number; verdicts: Record<string, number> }>;
}
