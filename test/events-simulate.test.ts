// The simulator: deterministic, schema-valid records, archive segments the collector's Archive reads back.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Archive, explainMeasurement } from '../collector/events/contract.js';
import { observationFromRecord } from '../collector/events/observation.js';
import { simulateObservations, simulateRecords, writeSimulation } from '../collector/events/simulate.js';

const clock = { now: () => Date.UTC(2030, 0, 1), monotonic: () => 0 };

describe('simulate', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const take = (seed: number) => [...simulateRecords({ days: 1, probes: 5, seed })].slice(0, 200);
    expect(take(3)).toEqual(take(3));
    expect(take(3)).not.toEqual(take(4));
  });

  it('makes records that pass the collector schema, throttling and partial blocking included', () => {
    let checked = 0;
    let throttledOrPartial = 0;
    for (const record of simulateRecords({ days: 20, probes: 6 })) {
      const m = record.measurement;
      const special = m.verdict.verdict === 'http.throttled' || m.verdict.scope === 'partial';
      if (special) throttledOrPartial++;
      if (!special && m.verdict.verdict === 'ok' && checked % 50 !== 0) {
        checked++;
        continue;
      }
      expect(explainMeasurement(m), `${m.id} ${m.verdict.verdict}`).toBeNull();
      checked++;
    }
    expect(checked).toBeGreaterThan(10_000);
    expect(throttledOrPartial).toBeGreaterThan(0);
  }, 60_000);

  it('writes daily segments and truth.json that the archive reads back in order, late uploads in later segments', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-sim-'));
    try {
      const { records, segments, truth } = await writeSimulation(dir, { days: 20, probes: 6 });
      expect(segments.at(-1)).toMatch(/^\d{4}-\d{2}-\d{2}\.jsonl$/);
      expect(segments.slice(0, -1).every((s) => s.endsWith('.jsonl.gz'))).toBe(true);
      expect((await readdir(dir)).sort()).toEqual([...segments, 'truth.json'].sort());
      expect(JSON.parse(await readFile(path.join(dir, 'truth.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(truth)));
      const archive = await Archive.open(dir, clock, { readonly: true });
      let n = 0;
      let lastReceived = '';
      let lateAcrossDays = 0;
      const inMemory = simulateObservations({ days: 20, probes: 6 });
      for await (const { record } of archive.read()) {
        expect(record.received_at >= lastReceived).toBe(true);
        lastReceived = record.received_at;
        if (record.received_at.slice(0, 10) > record.measurement.started_at.slice(0, 10)) lateAcrossDays++;
        expect(observationFromRecord(record)).toEqual(inMemory.next().value);
        n++;
      }
      expect(n).toBe(records);
      // The probe that was offline over midnight uploads its measurements the next day.
      expect(lateAcrossDays).toBeGreaterThan(100);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
