// `ashyq-collector import FILE…`: archive segments through the same path as live uploads, with progress on stderr and a summary.
import { stat } from 'node:fs/promises';
import { systemClock, type Clock } from '../../common/clock.js';
import { collectorFollowers, openStorage } from '../app.js';
import type { CollectorConfig } from '../config.js';
import { Importer, type ImportProgress, type ImportSummary } from '../ingest/import.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { countedArchive } from '../pipeline/exclusions.js';
import { influxFollowers } from '../sinks/influx/from-config.js';
import { InfluxSink } from '../sinks/influx/sink.js';
import { loadTargetList } from '../targets/list.js';
import { InputError, type Output } from './output.js';

/** How long an import waits for InfluxDB to take what it imported before leaving the rest to the next start. */
const INFLUX_DRAIN_MS = 60_000;

function progressLine(p: ImportProgress, startedAt: number, clock: Clock): string {
  const share = p.size > 0 ? Math.min(1, p.bytes / p.size) : 1;
  const width = 24;
  const filled = Math.round(share * width);
  const seconds = Math.max(0.001, (clock.monotonic() - startedAt) / 1000);
  const s = p.summary;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(share * 100)}% ${p.file}: ${s.read} read, ${s.accepted} new, ${s.duplicates} duplicate, ${s.rejected} rejected, ${Math.round(s.read / seconds)}/s`;
}

export function describeImport(s: ImportSummary, seconds: number): string {
  const lines = [
    `ashyq-collector: imported ${s.files} file(s) in ${seconds.toFixed(1)} s: ${s.read} records read, ${s.accepted} new measurements, ${s.duplicates} duplicates skipped, ${s.rejected} rejected`,
  ];
  const codes = Object.entries(s.byCode).sort((a, b) => b[1] - a[1]);
  if (codes.length > 0) lines.push(`  rejected by reason: ${codes.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  for (const p of s.problems.slice(0, 10)) lines.push(`  ${p.file}:${p.line}: ${p.code}: ${p.reason}`);
  if (s.rejected > 10) lines.push(`  … ${s.rejected - Math.min(10, s.problems.length)} more`);
  return `${lines.join('\n')}\n`;
}

export async function runImport(config: CollectorConfig, files: readonly string[], json: boolean, clock: Clock, stdout: Output, stderr: Output & { isTTY?: boolean }): Promise<number> {
  if (files.length === 0) throw new InputError('import: name at least one archive segment (FILE.jsonl or FILE.jsonl.gz)');
  // Every file is looked at before anything is imported: a mistyped name stops the import, not half of it.
  for (const file of files) {
    const found = await stat(file).catch((err: NodeJS.ErrnoException) => err);
    if (found instanceof Error) throw new InputError(`import ${file}: ${found.code === 'ENOENT' ? 'no such file' : `cannot be read (${found.code ?? found.message})`}`);
    if (!found.isFile()) throw new InputError(`import ${file}: not a file`);
  }
  const targets = await loadTargetList(config.targets_file);
  const storage = await openStorage(config, clock);
  const influxLog = (m: string) => stderr.write(`ashyq-collector: influx: ${m}\n`);
  const extra = influxFollowers(config, countedArchive(storage.archive, storage.store.exclusions()), { info: influxLog, warn: influxLog, error: influxLog });
  const { index, measurements, followers, shares } = collectorFollowers(config, storage, clock, extra);
  const pipeline = new Pipeline(index, followers, { warn: (o, m) => stderr.write(`ashyq-collector: ${m} ${JSON.stringify(o)}\n`) });
  const startedAt = clock.monotonic();
  let lastDrawn = 0;
  const importer = new Importer({
    archive: storage.archive,
    store: storage.store,
    pipeline,
    targets: targets.byId,
    limits: config.limits,
    clock: systemClock,
    onProgress: (p) => {
      const now = clock.monotonic();
      const done = p.bytes >= p.size;
      if (stderr.isTTY === true) stderr.write(`\r${progressLine(p, startedAt, clock)}${done ? '\n' : ''}`);
      else if (done || now - lastDrawn >= 5000) {
        lastDrawn = now;
        stderr.write(`${progressLine(p, startedAt, clock)}\n`);
      }
    },
  });
  try {
    await pipeline.start();
    shares?.start();
    await importer.importFiles(files);
    if (shares !== null) {
      const flushed = await Promise.race([shares.flush().then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), INFLUX_DRAIN_MS).unref())]);
      if (!flushed || shares.backlog() > 0) stderr.write(`ashyq-collector: influx: blocked shares of ${shares.backlog()} buckets not yet written; the collector writes them when it next runs\n`);
    }
    for (const f of extra) {
      if (!(f instanceof InfluxSink)) continue;
      const drained = await Promise.race([f.drain(), new Promise<false>((resolve) => setTimeout(() => resolve(false), INFLUX_DRAIN_MS).unref())]);
      if (!drained) stderr.write(`ashyq-collector: influx: ${f.backlog()} points not yet written; the collector writes them when it next runs\n`);
    }
  } finally {
    await shares?.stop();
    await pipeline.stop();
    await storage.archive.close();
    storage.eventStore.close();
    measurements.index.close();
    storage.store.close();
  }
  const seconds = (clock.monotonic() - startedAt) / 1000;
  const s = importer.summary;
  if (json) stdout.write(`${JSON.stringify({ ...s, seconds: Number(seconds.toFixed(3)) })}\n`);
  else stdout.write(describeImport(s, seconds));
  return s.rejected > 0 && s.accepted === 0 && s.duplicates === 0 ? 1 : 0;
}
