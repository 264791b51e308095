// The measurement index: kept by its follower from live uploads, pointing at each record in the archive (plain and gzipped days), idempotent, rebuilt by reindex.
import { readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import { Archive, type ArchivedRecord } from '../collector/storage/archive.js';
import { MeasurementIndex, type IndexRow } from '../collector/storage/measurement-index.js';
import type { Measurement } from '../contract/measurement.js';
import type { BatchAnswer } from '../contract/wire.js';
import { makeMeasurement, ManualClock, startCollector, T0, TARGETS_FILE, TOKEN, tempDir, type RunningCollector } from './fixtures/collector/helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const HOUR = 3_600_000;

/** A measurement whose TLS chain does not validate and whose verdict says interception. */
function intercepted(probeId: string, at: number): Measurement {
  const m = makeMeasurement({ probeId, at });
  const tls = m.evidence.tls[0]!;
  tls.trusted = false;
  tls.validation_error = 'SELF_SIGNED_CERT_IN_CHAIN';
  tls.chain = [
    { ...tls.chain[0]!, issuer: 'CN=Qaznet Trust Network' },
    { ...tls.chain[0]!, subject: 'CN=Qaznet Trust Network', issuer: 'CN=Qaznet Trust Network', fingerprint256: 'CC:DD' },
  ];
  m.verdict = { verdict: 'tls.interception', layer: 'tls', confidence: 0.95, reason: 'chain issued by a known interception CA', subjects: ['www.youtube.com'] };
  return m;
}

function configYaml(dir: string): string {
  return `data_dir: ${JSON.stringify(dir)}\nlisten: { host: 127.0.0.1, port: 0 }\nenrollment_tokens: [${TOKEN}]\ntargets_file: ${JSON.stringify(TARGETS_FILE)}\n`;
}

function rowsOf(file: string): IndexRow[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT * FROM measurement_index ORDER BY id').all() as IndexRow[];
  } finally {
    db.close();
  }
}

/** Two probes upload on two days: the first day is gzipped when the second begins. */
async function twoDays(c: RunningCollector): Promise<Measurement[]> {
  const a = await c.register();
  const b = await c.register();
  const sent: Measurement[] = [];
  for (let day = 0; day < 2; day++) {
    for (let round = 0; round < 4; round++) {
      c.clock.advance(10 * 60_000);
      const now = c.clock.now();
      const fromA = [makeMeasurement({ probeId: a.id, at: now - 1000, verdict: round % 2 === 0 ? 'tls.reset' : 'ok' }), intercepted(a.id, now - 2000)];
      const fromB = [makeMeasurement({ probeId: b.id, at: now - 3000, asn: null, target: { id: 'canary-kz', category: 'canary' } })];
      for (const [p, list] of [
        [a, fromA],
        [b, fromB],
      ] as const) {
        const answer = (await c.post(p, [...list, list[0]])).json() as BatchAnswer;
        expect(answer.results.map((r) => r.status)).toEqual([...list.map(() => 'accepted'), 'duplicate']);
        sent.push(...list);
      }
    }
    c.clock.advance(24 * HOUR);
  }
  return sent;
}

/** A collector's data directory after two days of uploads, and the index rows it kept live. */
async function keptLive(): Promise<{ dir: string; file: string; live: IndexRow[] }> {
  const dir = await tempDir();
  dirs.push(dir);
  const c = await startCollector({ dir });
  await twoDays(c);
  await c.stop();
  const file = path.join(dir, 'store.sqlite');
  const live = rowsOf(file);
  expect(live.length).toBe(24);
  return { dir, file, live };
}

describe('measurement index', () => {
  it('indexes live uploads with both verdicts, timings and the interception issuer, and points at each record on plain and gzipped days', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const c = await startCollector({ dir });
    try {
      const sent = await twoDays(c);
      const index = c.collector.measurements;
      expect(index.count()).toBe(sent.length);
      await c.collector.archive.close(); // finishes the compression of the first day
      expect((await readdir(path.join(dir, 'archive'))).sort()).toEqual(['2024-05-09.jsonl.gz', '2024-05-10.jsonl']);
      const archive = await Archive.open(path.join(dir, 'archive'), new ManualClock(T0 + 3 * 24 * HOUR), { readonly: true });
      const segments = new Set<string>();
      for (const m of sent) {
        const row = index.get(m.id)!;
        expect(row).not.toBeNull();
        expect(row.t).toBe(Date.parse(m.started_at));
        expect(row.target).toBe(m.target.id);
        expect(row.verdict).toBe(m.verdict.verdict);
        expect(row.probe_verdict).toBe(m.verdict.verdict);
        expect(row.asn).toBe(m.probe.asn ?? -1);
        expect(row.cc).toBe('KZ');
        expect(row.probe).toBe(m.probe.id);
        expect([row.dns_ms, row.tcp_ms, row.tls_ms, row.http_ms]).toEqual([12, 40, 80, 210]);
        expect([row.bulk_kBps, row.canary_kBps]).toEqual([null, null]);
        expect(row.layer).toBe(m.verdict.layer);
        expect(row.scope).toBe(m.verdict.layer === null ? null : 'full');
        expect(row.issuer).toBe(m.verdict.verdict === 'tls.interception' ? 'CN=Qaznet Trust Network' : null);
        segments.add(row.segment);
        const record = await archive.readAt({ segment: row.segment, offset: row.offset });
        expect(record?.measurement).toEqual(m);
        expect(record?.probe_id).toBe(m.probe.id);
      }
      expect([...segments].sort()).toEqual(['2024-05-09', '2024-05-10']);
      // Past the end of a day, or a day the archive does not have: nothing.
      expect(await archive.readAt({ segment: '2024-05-10', offset: 10_000_000 })).toBeNull();
      expect(await archive.readAt({ segment: '2024-05-01', offset: 0 })).toBeNull();
      await archive.close();
    } finally {
      await c.collector.close();
    }
  });

  it('is rebuilt by reindex exactly as it was kept live, and catches up on start with what the archive has past its cursor', async () => {
    const { dir, file, live } = await keptLive();

    // Damage it: the rebuild must not depend on what is there.
    const db = new Database(file);
    db.exec("DELETE FROM measurement_index WHERE verdict = 'ok'; UPDATE measurement_index SET offset = offset + 1, issuer = 'x';");
    db.close();
    const configFile = path.join(dir, 'collector.yaml');
    await writeFile(configFile, configYaml(dir));
    const out: string[] = [];
    const code = await main(['reindex', '--config', configFile], { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => out.push(t) } });
    expect(code).toBe(0);
    expect(out.join('')).toContain('measurement index: 24 measurements');
    expect(rowsOf(file)).toEqual(live);

    // Records archived while no follower ran (with the bulk-read evidence of newer probes, read defensively).
    const clock = new ManualClock(T0 + 2 * 24 * HOUR);
    const archive = await Archive.open(path.join(dir, 'archive'), clock);
    const extra = makeMeasurement({ probeId: 'probe-offline-0001', at: clock.now() - 60_000, verdict: 'ok' });
    const evidence = extra.evidence as unknown as Record<string, unknown>;
    evidence['bulk'] = [{ ...extra.evidence.http[0], rate_bps: 48_000, body_ms: 1000, ended: 'time' }, { ...extra.evidence.http[0], rate_bps: null, body_ms: null, ended: 'failure' }];
    evidence['baseline'] = { canaries: ['canary-intl'], bulk_rate_bps: 2_400_000, tls_handshake_ms: 60 };
    extra.verdict = { verdict: 'http.throttled', layer: 'http', confidence: 0.7, reason: 'bulk read at 2% of the canaries', subjects: ['www.youtube.com'], scope: 'partial' };
    const record: ArchivedRecord = { received_at: new Date(clock.now()).toISOString(), probe_id: 'probe-offline-0001', asn: 9198, cc: 'KZ', network: 'JSC Kazakhtelecom', measurement: extra };
    await archive.append([record]);
    await archive.close();
    const again = await startCollector({ dir, clock });
    try {
      const row = again.collector.measurements.get(extra.id)!;
      expect(row).toMatchObject({ verdict: 'http.throttled', scope: 'partial', layer: 'http', bulk_kBps: 48, canary_kBps: 2400, asn: 9198, probe: 'probe-offline-0001' });
      expect(again.collector.measurements.count()).toBe(25);
      expect((await again.collector.archive.readAt(row))?.measurement.id).toBe(extra.id);
      // Idempotent by id: the same records applied again change nothing.
      const before = rowsOf(file);
      again.collector.measurements.apply([{ record, at: { segment: 'elsewhere', offset: 1 } }], null);
      expect(rowsOf(file)).toEqual(before);
    } finally {
      await again.dispose();
    }
  });

  it('drops an index of the earlier layout (keyed by id, without rowid) and builds it again from the archive at start', async () => {
    const { dir, file, live } = await keptLive();

    // The earlier table, holding only some of the rows, one of them wrong.
    const db = new Database(file);
    const columns = Object.keys(live[0]!).join(', ');
    db.exec(`ALTER TABLE measurement_index RENAME TO newer; CREATE TABLE measurement_index (
      id TEXT PRIMARY KEY, t INTEGER NOT NULL, target TEXT NOT NULL, asn INTEGER NOT NULL, cc TEXT NOT NULL, probe TEXT NOT NULL,
      verdict TEXT NOT NULL, probe_verdict TEXT NOT NULL, layer TEXT, scope TEXT, dns_ms REAL, tcp_ms REAL, tls_ms REAL, http_ms REAL,
      bulk_kBps REAL, canary_kBps REAL, issuer TEXT, segment TEXT NOT NULL, offset INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO measurement_index (${columns}) SELECT ${columns} FROM newer WHERE verdict != 'ok'; DROP TABLE newer;
      UPDATE measurement_index SET issuer = 'x';`);
    db.close();

    const again = await startCollector({ dir });
    try {
      expect(rowsOf(file)).toEqual(live);
      const check = new Database(file, { readonly: true });
      const sql = check.prepare("SELECT sql FROM sqlite_master WHERE name = 'measurement_index'").pluck().get() as string;
      const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'measurement_index' AND sql IS NOT NULL ORDER BY name").pluck().all();
      check.close();
      expect(sql).not.toMatch(/WITHOUT ROWID/i);
      expect(indexes).toEqual(['measurement_index_asn_t', 'measurement_index_probe_t', 'measurement_index_t', 'measurement_index_target_t']);
    } finally {
      await again.dispose();
    }
  });

  it('keeps indexing when a day rolls over and after an offer it could not take', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const c = await startCollector({ dir });
    try {
      const p = await c.register();
      const first = makeMeasurement({ probeId: p.id, at: c.clock.now() - 1000 });
      await c.post(p, [first]);
      // An index that fails to write once puts the follower behind: it reads the archive again from its cursor.
      const index: MeasurementIndex = c.collector.measurements;
      const follower = c.collector.followers.find((f) => f.name === 'measurement-index')!;
      const original = index.apply.bind(index);
      let failures = 1;
      index.apply = (records, cursor) => {
        if (failures-- > 0) throw new Error('database is locked');
        original(records, cursor);
      };
      const second = makeMeasurement({ probeId: p.id, at: c.clock.now() - 500, verdict: 'tls.reset' });
      await c.post(p, [second]);
      for (let i = 0; i < 100 && follower.backlog() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(index.get(second.id)?.verdict).toBe('tls.reset');
      c.clock.advance(24 * HOUR);
      const third = makeMeasurement({ probeId: p.id, at: c.clock.now() - 500 });
      await c.post(p, [third]);
      expect(index.get(third.id)?.segment).toBe('2024-05-10');
      expect(follower.backlog()).toBe(0);
      expect(index.count()).toBe(3);
    } finally {
      await c.dispose();
    }
  });
});
