// The embedded store: probe registration outcomes, id dedup, 10-minute aggregates and series per step.
import path from 'node:path';
import { rm } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ArchivedRecord } from '../collector/storage/archive.js';
import { isBlocked } from '../contract/verdict.js';
import { bucketOf, Store } from '../collector/storage/store.js';
import type { Verdict } from '../contract/verdict.js';
import { makeMeasurement, T0, tempDir } from './fixtures/collector/helpers.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await tempDir('ashyq-store-');
  store = Store.open(path.join(dir, 'store.sqlite'));
});
afterEach(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

function rec(at: number, verdict: Verdict, asn: number | null, cc: string | null = 'KZ'): ArchivedRecord {
  return { received_at: new Date(T0).toISOString(), probe_id: 'probe-0001', asn, cc, network: null, measurement: makeMeasurement({ probeId: 'probe-0001', at, verdict }) };
}

/** A record whose verdict covers only some of the target's subjects (3 of 5 data centres). */
function partialRec(at: number, verdict: Verdict): ArchivedRecord {
  const r = rec(at, verdict, 9198);
  const v = r.measurement.verdict;
  return { ...r, measurement: { ...r.measurement, verdict: { ...v, scope: 'partial', subjects: ['dc1', 'dc2', 'dc3'], working: ['dc4', 'dc5'] } } };
}

describe('Store', () => {
  it('registers probes: created, exists for the same key, conflict for another', () => {
    expect(store.registerProbe('probe-0001', 'KEY-A', '2024-05-09T07:00:00.000Z')).toBe('created');
    expect(store.registerProbe('probe-0001', 'KEY-A', '2024-05-09T08:00:00.000Z')).toBe('exists');
    expect(store.registerProbe('probe-0001', 'KEY-B', '2024-05-09T08:00:00.000Z')).toBe('conflict');
    store.apply([], null, [['probe-0001', '2024-05-09T09:00:00.000Z']]);
    expect(store.probe('probe-0001')).toEqual({ id: 'probe-0001', public_key: 'KEY-A', registered_at: '2024-05-09T07:00:00.000Z', last_seen: '2024-05-09T09:00:00.000Z', role: 'probe', note: null, revoked_at: null, excluded_from: null });
    expect(store.probeCount()).toBe(1);
    // A probe enrolled with a control token keeps that role, also when it registers its key again.
    expect(store.registerProbe('control-0001', 'KEY-C', '2024-05-09T07:00:00.000Z', 'control')).toBe('created');
    expect(store.registerProbe('control-0001', 'KEY-C', '2024-05-09T08:00:00.000Z')).toBe('exists');
    expect(store.probe('control-0001')?.role).toBe('control');
  });

  it('a store made before control probes: its probes are probes of the measured networks', async () => {
    store.close();
    const file = path.join(dir, 'old.sqlite');
    const db = new Database(file);
    db.exec("CREATE TABLE probes (id TEXT PRIMARY KEY, public_key TEXT NOT NULL, registered_at TEXT NOT NULL, last_seen TEXT) WITHOUT ROWID; INSERT INTO probes VALUES ('probe-0001', 'KEY-A', '2024-05-09T07:00:00.000Z', NULL);");
    db.close();
    store = Store.open(file);
    expect(store.probe('probe-0001')).toMatchObject({ role: 'probe', note: null, revoked_at: null, excluded_from: null });
    store.revokeProbe('probe-0001', '2024-05-10T00:00:00.000Z');
    expect(store.probe('probe-0001')?.revoked_at).toBe('2024-05-10T00:00:00.000Z');
  });

  it('counts each id once into per-10-minute aggregates keyed by target, ASN, country and verdict', () => {
    const a = rec(T0 + 60_000, 'ok', 9198);
    const b = rec(T0 + 9 * 60_000, 'tls.reset', 9198);
    const c = rec(T0 + 10 * 60_000, 'tls.reset', null, null);
    expect(store.apply([a, b, a], { segment: '2024-05-09', offset: 10 })).toBe(2);
    expect(store.apply([b, c], { segment: '2024-05-09', offset: 20 })).toBe(1);
    expect(store.cursor()).toEqual({ segment: '2024-05-09', offset: 20 });
    expect(store.hasMeasurement(a.measurement.id)).toBe(true);
    expect(store.aggregates()).toEqual([
      { bucket: T0, target: 'youtube', asn: 9198, cc: 'KZ', verdict: 'ok', count: 1, blocked: 0, partial: 0 },
      { bucket: T0, target: 'youtube', asn: 9198, cc: 'KZ', verdict: 'tls.reset', count: 1, blocked: 1, partial: 0 },
      { bucket: T0 + 600_000, target: 'youtube', asn: null, cc: null, verdict: 'tls.reset', count: 1, blocked: 1, partial: 0 },
    ]);
    expect(store.series({ target: 'youtube', asn: null, from: T0, to: T0 + 3_600_000, step: 3_600_000 })).toEqual([
      { t: T0, count: 3, blocked: 2, partial: 0, verdicts: { ok: 1, 'tls.reset': 2 } },
    ]);
    expect(store.series({ target: 'youtube', asn: 9198, from: T0, to: T0 + 3_600_000, step: 600_000 })).toEqual([
      { t: T0, count: 2, blocked: 1, partial: 0, verdicts: { ok: 1, 'tls.reset': 1 } },
    ]);
    expect(store.series({ target: 'youtube', asn: null, from: T0 + 600_000, to: T0 + 1_200_000, step: 600_000 })).toHaveLength(1);
    expect(() => store.series({ target: 'youtube', asn: null, from: T0, to: T0 + 1, step: 300_000 })).toThrow(/multiple of 10 minutes/);
    store.resetIndex();
    expect([store.aggregates(), store.measurementCount(), store.cursor()]).toEqual([[], 0, null]);
    expect(store.probeCount()).toBe(0);
  });

  it('keeps partial blocking apart from full blocking in the aggregates and the series', () => {
    const full = rec(T0 + 60_000, 'tcp.timeout', 9198);
    const partA = partialRec(T0 + 120_000, 'tcp.timeout');
    const partB = partialRec(T0 + 180_000, 'tcp.timeout');
    const fine = rec(T0 + 240_000, 'ok', 9198);
    // A partial scope on a verdict that is not blocking counts in neither.
    const partialDown = partialRec(T0 + 300_000, 'down');
    expect(store.apply([full, partA, partB, fine, partialDown], null)).toBe(5);
    expect(store.aggregates()).toEqual([
      { bucket: T0, target: 'youtube', asn: 9198, cc: 'KZ', verdict: 'down', count: 1, blocked: 0, partial: 0 },
      { bucket: T0, target: 'youtube', asn: 9198, cc: 'KZ', verdict: 'ok', count: 1, blocked: 0, partial: 0 },
      { bucket: T0, target: 'youtube', asn: 9198, cc: 'KZ', verdict: 'tcp.timeout', count: 3, blocked: 1, partial: 2 },
    ]);
    expect(store.series({ target: 'youtube', asn: null, from: T0, to: T0 + 3_600_000, step: 600_000 })).toEqual([
      { t: T0, count: 5, blocked: 1, partial: 2, verdicts: { down: 1, ok: 1, 'tcp.timeout': 3 } },
    ]);
  });

  it('adds the partial count to a store made without it (old rows count 0)', () => {
    store.close();
    const file = path.join(dir, 'old.sqlite');
    const old = new Database(file);
    old.exec(`CREATE TABLE aggregates (bucket INTEGER NOT NULL, target TEXT NOT NULL, asn INTEGER NOT NULL, cc TEXT NOT NULL, verdict TEXT NOT NULL,
      count INTEGER NOT NULL, blocked INTEGER NOT NULL, PRIMARY KEY (target, bucket, asn, cc, verdict)) WITHOUT ROWID`);
    old.prepare('INSERT INTO aggregates VALUES (?, ?, ?, ?, ?, ?, ?)').run(T0, 'youtube', 9198, 'KZ', 'tcp.timeout', 4, 4);
    old.close();
    store = Store.open(file);
    store.apply([partialRec(T0 + 60_000, 'tcp.timeout')], null);
    expect(store.aggregates()).toEqual([{ bucket: T0, target: 'youtube', asn: 9198, cc: 'KZ', verdict: 'tcp.timeout', count: 5, blocked: 4, partial: 1 }]);
  });

  it('counts a large group as record-by-record applies do (rows shared by many records, repeats, knownMeasurements)', () => {
    const verdicts: Verdict[] = ['ok', 'tls.reset', 'dns.nxdomain', 'down'];
    const records = Array.from({ length: 600 }, (_, i) => rec(T0 + ((i * 7919) % 3_600_000), verdicts[i % 4]!, i % 3 === 0 ? null : 9198 + (i % 2), i % 5 === 0 ? null : 'KZ'));
    const withRepeats = [...records, ...records.slice(0, 50)];
    const other = Store.open(path.join(dir, 'one-by-one.sqlite'));
    try {
      let oneByOne = 0;
      for (const r of withRepeats) oneByOne += other.apply([r], null);
      expect(store.apply(withRepeats.slice(0, 300), null) + store.apply(withRepeats.slice(300), null)).toBe(oneByOne);
      expect(oneByOne).toBe(600);
      expect(store.aggregates()).toEqual(other.aggregates());
      expect(store.aggregates().reduce((n, row) => n + row.count, 0)).toBe(600);
      expect(store.knownMeasurements([records[0]!.measurement.id, 'not-indexed-id', records[599]!.measurement.id])).toEqual(
        new Set([records[0]!.measurement.id, records[599]!.measurement.id]),
      );
      expect(store.knownMeasurements([])).toEqual(new Set());
    } finally {
      other.close();
    }
  });

  it('buckets by start time and treats ok, down, offline and inconclusive as not blocked', () => {
    expect(bucketOf('2024-05-09T07:19:59.999Z')).toBe(Date.UTC(2024, 4, 9, 7, 10));
    expect(['ok', 'down', 'offline', 'inconclusive'].map((v) => isBlocked(v as Verdict))).toEqual([false, false, false, false]);
    expect(['dns.nxdomain', 'tls.interception', 'http.blockpage'].map((v) => isBlocked(v as Verdict))).toEqual([true, true, true]);
  });
});
