import { toLines, escapeTag, pointTimestamp, quoteString } from '../../collector/influx/line.js';
import { makeRecords } from '../../test/services/archive-records.js';
const recs = makeRecords(50000, { startMs: Date.now() - 86400000 });
for (let round = 0; round < 3; round++) {
  let t = performance.now();
  for (const r of recs) toLines(r);
  console.log('toLines', (performance.now() - t).toFixed(0), 'ms');
  t = performance.now();
  for (const r of recs) { escapeTag(r.measurement.target.id); escapeTag(r.measurement.verdict.verdict); escapeTag('KZ'); escapeTag('9198'); escapeTag('none'); escapeTag('video'); }
  console.log('6 escapeTag', (performance.now() - t).toFixed(0), 'ms');
  t = performance.now();
  for (const r of recs) pointTimestamp(Date.parse(r.measurement.started_at), r.measurement.id);
  console.log('ts', (performance.now() - t).toFixed(0), 'ms');
  t = performance.now();
  for (const r of recs) quoteString(r.probe_id);
  console.log('quote', (performance.now() - t).toFixed(0), 'ms');
}
