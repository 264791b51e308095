// The collector API end to end on 127.0.0.1: registration, signed batches and every whole-batch and per-item answer.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signBatch, type BatchAnswer, type ErrorAnswer } from '../contract/wire.js';
import {
  makeMeasurement,
  newKeyPair,
  request,
  startCollector,
  T0,
  TOKEN,
  type RunningCollector,
  type TestProbe,
} from './fixtures/collector/helpers.js';

let c: RunningCollector;
let probe: TestProbe;

beforeEach(async () => {
  c = await startCollector({ limits: { max_body_bytes: 64 * 1024, max_json_bytes: 512 * 1024, max_batch_items: 50 } });
  probe = await c.register();
});

afterEach(async () => {
  await c.dispose();
});

function results(res: { json(): unknown }): BatchAnswer['results'] {
  return (res.json() as BatchAnswer).results;
}

function errorCode(res: { json(): unknown }): string {
  return (res.json() as ErrorAnswer).error.code;
}

describe('registration', () => {
  it('registers a key with a proposed id, repeats idempotently, refuses another key for the same id', async () => {
    const keys = newKeyPair();
    const body = (publicKey: string) => JSON.stringify({ enrollment_token: TOKEN, public_key: publicKey, probe_id: 'volunteer-0001' });
    const post = (b: string) => request(`${c.url}/api/v1/probes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });
    const first = await post(body(keys.publicKeyPem));
    expect(first.status).toBe(201);
    expect(first.json()).toEqual({ probe_id: 'volunteer-0001' });
    expect((await post(body(keys.publicKeyPem))).status).toBe(200);
    const other = await post(body(newKeyPair().publicKeyPem));
    expect(other.status).toBe(409);
    expect(errorCode(other)).toBe('probe_exists');
  });

  it('makes a random id when none is proposed', async () => {
    const a = await c.register();
    const b = await c.register();
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.id).not.toBe(b.id);
    expect(c.collector.store.probe(a.id)?.public_key).toBe(a.publicKeyPem);
  });

  it('refuses an unknown token with 403 and bad keys or bodies with 400', async () => {
    const post = (b: unknown, type = 'application/json') =>
      request(`${c.url}/api/v1/probes`, { method: 'POST', headers: { 'content-type': type }, body: typeof b === 'string' ? b : JSON.stringify(b) });
    const pem = newKeyPair().publicKeyPem;
    const bad = await post({ enrollment_token: 'not-the-token-at-all', public_key: pem });
    expect(bad.status).toBe(403);
    expect(errorCode(bad)).toBe('bad_token');
    const rsa = await post({ enrollment_token: TOKEN, public_key: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' });
    expect(rsa.status).toBe(400);
    expect(errorCode(rsa)).toBe('bad_public_key');
    expect((await post({ enrollment_token: TOKEN, public_key: pem, probe_id: 'x' })).status).toBe(400);
    expect((await post({ enrollment_token: TOKEN, public_key: pem, extra: 1 })).status).toBe(400);
    const malformed = await post('{"enrollment_token": ');
    expect(malformed.status).toBe(400);
    expect(errorCode(malformed)).toBe('bad_json');
    expect((await post('a=b', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect(c.collector.store.probeCount()).toBe(1);
  });
});

describe('measurement batches', () => {
  it('accepts a signed batch, keeps it in archive and store, and answers duplicate on a re-upload', async () => {
    const ms = [0, 1, 2].map((i) => makeMeasurement({ probeId: probe.id, at: T0 - 60_000 * (i + 1) }));
    const res = await c.post(probe, ms);
    expect(res.status).toBe(200);
    expect(results(res)).toEqual(ms.map((m, index) => ({ index, id: m.id, status: 'accepted' })));
    expect(c.collector.store.measurementIds()).toEqual(ms.map((m) => m.id).sort());
    const archived: string[] = [];
    for await (const { record } of c.collector.archive.read()) archived.push(record.measurement.id);
    expect(archived).toEqual(ms.map((m) => m.id));

    c.clock.advance(1000); // a new signature: not a replay, but the same measurements
    const again = await c.post(probe, [ms[0], makeMeasurement({ probeId: probe.id, at: T0 })]);
    expect(again.status).toBe(200);
    expect(results(again).map((r) => r.status)).toEqual(['duplicate', 'accepted']);
    expect(c.collector.store.measurementCount()).toBe(4);
  });

  it('archives each measurement as received: the line of JSON.stringify(record), and one line per record from an indented batch', async () => {
    const ms = [0, 1, 2].map((i) => makeMeasurement({ probeId: probe.id, at: T0 - 60_000 * (i + 1) }));
    expect((await c.post(probe, ms.slice(0, 2))).status).toBe(200);
    c.clock.advance(1000);
    const indented = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: [ms[2], { ...ms[2], id: 'not a ULID' }] }, null, 2));
    const res = await c.post(probe, [], { body: indented });
    expect(results(res).map((r) => r.status)).toEqual(['accepted', 'rejected']);
    const records = [];
    for await (const { record } of c.collector.archive.read()) records.push(record);
    expect(records.map((r) => r.measurement)).toEqual(ms);
    const text = await readFile(path.join(c.dir, 'archive', `${new Date(T0).toISOString().slice(0, 10)}.jsonl`), 'utf8');
    expect(text).toBe(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  });

  it('archives the validated value, not the bytes, of a measurement with a key written twice', async () => {
    const m = makeMeasurement({ probeId: probe.id, at: T0 - 1000 });
    const text = JSON.stringify({ probe_id: probe.id, measurements: [m] }).replace('"probe":{', '"probe":{"network":"hidden 198.51.100.7",');
    const res = await c.post(probe, [], { body: gzipSync(text) });
    expect(results(res).map((r) => r.status)).toEqual(['accepted']);
    const archived = await readFile(path.join(c.dir, 'archive', `${new Date(T0).toISOString().slice(0, 10)}.jsonl`), 'utf8');
    expect(archived).not.toContain('hidden');
    expect((JSON.parse(archived) as { measurement: unknown }).measurement).toEqual(m);
  });

  it('answers duplicate for an id repeated inside one batch', async () => {
    const m = makeMeasurement({ probeId: probe.id, at: T0 });
    const res = await c.post(probe, [m, m]);
    expect(results(res).map((r) => r.status)).toEqual(['accepted', 'duplicate']);
  });

  it('rejects a replayed request with 409 and nothing new stored', async () => {
    const body = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: [makeMeasurement({ probeId: probe.id, at: T0 })] }));
    const first = await c.post(probe, [], { body });
    expect(first.status).toBe(200);
    const again = await c.post(probe, [], { body });
    expect(again.status).toBe(409);
    expect(errorCode(again)).toBe('replay');
    expect(c.collector.store.measurementCount()).toBe(1);
  });

  it('refuses another base64 spelling of a received signature (the unused bits of its last character) as a bad signature', async () => {
    const body = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: [makeMeasurement({ probeId: probe.id, at: T0 })] }));
    const headers: Record<string, string> = { ...signBatch(probe.privateKey, probe.id, body, c.clock.now()) };
    const signature = headers['x-ashyq-signature']!;
    const first = await c.post(probe, [], { body, headers });
    expect(first.status).toBe(200);
    // The 86th character carries 4 bits of the signature and 2 unused ones: 3 other spellings decode to the same bytes.
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const last = ALPHABET.indexOf(signature[85]!);
    const spellings = [1, 2, 3].map((low) => `${signature.slice(0, 85)}${ALPHABET[(last & ~3) | ((last + low) & 3)]!}==`);
    for (const spelling of spellings) {
      expect(Buffer.from(spelling, 'base64').equals(Buffer.from(signature, 'base64'))).toBe(true);
      const again = await c.post(probe, [], { body, headers: { ...headers, 'x-ashyq-signature': spelling } });
      expect([again.status, errorCode(again)]).toEqual([401, 'bad_signature']);
    }
    expect(c.collector.store.measurementCount()).toBe(1);
  });

  it('rejects forged signatures, unknown probes and stale timestamps with 401', async () => {
    const m = makeMeasurement({ probeId: probe.id, at: T0 });
    const forged = await c.post(probe, [m], { signWith: newKeyPair().privateKey });
    expect(forged.status).toBe(401);
    expect(errorCode(forged)).toBe('bad_signature');

    const stranger = { id: 'not-registered-01', ...newKeyPair() };
    const unknown = await c.post(stranger, [makeMeasurement({ probeId: stranger.id, at: T0 })]);
    expect(unknown.status).toBe(401);
    expect(errorCode(unknown)).toBe('unknown_probe');

    const stale = await c.post(probe, [m], { signAt: T0 - 301_000 });
    expect(stale.status).toBe(401);
    expect(errorCode(stale)).toBe('timestamp_skew');
    const early = await c.post(probe, [m], { signAt: T0 + 301_000 });
    expect(errorCode(early)).toBe('timestamp_skew');

    const unsigned = await request(`${c.url}/api/v1/measurements`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync('{}'),
    });
    expect(unsigned.status).toBe(401);
    expect(errorCode(unsigned)).toBe('missing_signature');

    // A body changed after signing.
    const body = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: [m] }));
    const tampered = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: [m, m] }));
    const headers = (await import('../contract/wire.js')).signBatch(probe.privateKey, probe.id, body, c.clock.now());
    const swapped = await request(`${c.url}/api/v1/measurements`, { method: 'POST', headers: { ...headers }, body: tampered });
    expect(swapped.status).toBe(401);
    expect(c.collector.store.measurementCount()).toBe(0);
  });

  it('rejects items by reason with the JSON path, keeping the good ones', async () => {
    const good = makeMeasurement({ probeId: probe.id, at: T0 });
    const old = makeMeasurement({ probeId: probe.id, at: T0 - 15 * 24 * 3600 * 1000 });
    const future = makeMeasurement({ probeId: probe.id, at: T0 + 11 * 60 * 1000 });
    const target = { ...makeMeasurement({ probeId: probe.id, at: T0 }), target: { id: 'myspace', category: 'social' as const } };
    const boom = makeMeasurement({ probeId: probe.id, at: T0 });
    (boom.evidence.tcp[2] as { failure: string }).failure = 'boom';
    const other = makeMeasurement({ probeId: 'someone-else-42', at: T0 });
    const wrongType = { ...makeMeasurement({ probeId: probe.id, at: T0 }), runtime_ms: '812' };
    const res = await c.post(probe, [good, old, future, target, boom, other, wrongType, 'not an object']);
    expect(res.status).toBe(200);
    const r = results(res);
    expect(r.map((x) => [x.status, x.code])).toEqual([
      ['accepted', undefined],
      ['rejected', 'too_old'],
      ['rejected', 'in_future'],
      ['rejected', 'unknown_target'],
      ['rejected', 'unknown_failure'],
      ['rejected', 'probe_mismatch'],
      ['rejected', 'schema'],
      ['rejected', 'schema'],
    ]);
    expect(r[4]!.reason).toBe('evidence.tcp[2].failure: unknown failure "boom"');
    expect(r[3]!.reason).toBe('target.id: unknown target "myspace"');
    expect(r[6]!.reason).toBe('runtime_ms: expected a number, got a string');
    expect(r[7]).toMatchObject({ index: 7, id: null, reason: '$: expected an object, got a string' });
    expect(r[1]!.id).toBe(old.id);
    expect(c.collector.store.measurementIds()).toEqual([good.id]);
  });

  it('answers whole-batch faults: bad gzip, bad JSON, wrong shape, wrong encoding and media type', async () => {
    const m = makeMeasurement({ probeId: probe.id, at: T0 });
    const cases: Array<[Parameters<RunningCollector['post']>[2], number, string]> = [
      [{ body: Buffer.from('definitely not gzip') }, 400, 'bad_gzip'],
      [{ body: gzipSync('{"probe_id": "x", "measurements": [') }, 400, 'bad_json'],
      [{ body: gzipSync(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])) }, 400, 'bad_json'],
      [{ batch: [m] }, 400, 'bad_batch'],
      [{ batch: { probe_id: 'someone-else-42', measurements: [m] } }, 400, 'bad_batch'],
      [{ batch: { probe_id: probe.id, measurements: {} } }, 400, 'bad_batch'],
      [{ batch: { probe_id: probe.id, measurements: [m], extra: true } }, 400, 'bad_batch'],
      [{ headers: { 'content-encoding': 'identity' } }, 415, 'unsupported_encoding'],
      [{ headers: { 'content-type': 'text/plain' } }, 415, 'unsupported_media_type'],
    ];
    for (const [options, status, code] of cases) {
      c.clock.advance(10); // distinct signatures
      const res = await c.post(probe, [m], options);
      expect([res.status, errorCode(res)], JSON.stringify(options).slice(0, 80)).toEqual([status, code]);
    }
    expect(c.collector.store.measurementCount()).toBe(0);
  });

  it('answers 413 for an oversized body, a gzip bomb and too many items', async () => {
    const m = makeMeasurement({ probeId: probe.id, at: T0 });
    const { randomBytes } = await import('node:crypto');
    const big = await c.post(probe, [], { body: randomBytes(70 * 1024) });
    expect(big.status).toBe(413);
    expect(errorCode(big)).toBe('too_large');
    c.clock.advance(10);
    const bomb = await c.post(probe, [], { body: gzipSync(Buffer.alloc(600 * 1024, 0x20)) });
    expect(bomb.status).toBe(413);
    expect(errorCode(bomb)).toBe('too_large');
    c.clock.advance(10);
    const many = await c.post(probe, Array.from({ length: 51 }, () => m));
    expect(many.status).toBe(413);
    expect(errorCode(many)).toBe('too_many_items');
    expect(c.collector.store.measurementCount()).toBe(0);
    // The server keeps serving.
    c.clock.advance(10);
    expect((await c.post(probe, [m])).status).toBe(200);
  });

  it('rate-limits one probe with 429 and retry-after, and lets it in again later', async () => {
    const limited = await startCollector({ limits: { rate_per_probe: { per_minute: 6, burst: 3 } } });
    try {
      const p = await limited.register();
      const other = await limited.register();
      const statuses: number[] = [];
      let last;
      for (let i = 0; i < 5; i++) {
        limited.clock.advance(1);
        last = await limited.post(p, [makeMeasurement({ probeId: p.id, at: T0 })]);
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect(errorCode(last!)).toBe('rate_limited');
      expect(Number(last!.headers['retry-after'])).toBeGreaterThanOrEqual(9);
      expect(Number(last!.headers['retry-after'])).toBeLessThanOrEqual(10);
      // Another probe is not affected.
      expect((await limited.post(other, [makeMeasurement({ probeId: other.id, at: T0 })])).status).toBe(200);
      limited.clock.advance(10_000);
      expect((await limited.post(p, [makeMeasurement({ probeId: p.id, at: T0 })])).status).toBe(200);
      expect(limited.collector.store.measurementCount()).toBe(5);
    } finally {
      await limited.dispose();
    }
  });
});

describe('reading', () => {
  it('serves targets with an ETag and 304 on a match', async () => {
    const res = await request(`${c.url}/api/v1/targets`);
    expect(res.status).toBe(200);
    const body = res.json() as { version: number; targets: Array<{ id: string }> };
    expect(body.version).toBe(1);
    expect(body.targets.map((t) => t.id)).toEqual(['youtube', 'telegram', 'canary-kz']);
    const etag = res.headers.etag!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const again = await request(`${c.url}/api/v1/targets`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect((await request(`${c.url}/api/v1/targets`, { headers: { 'if-none-match': '"other"' } })).status).toBe(200);
  });

  it('answers series per step from the aggregates', async () => {
    const at = (min: number) => T0 + min * 60_000;
    const ms = [
      makeMeasurement({ probeId: probe.id, at: at(-50), verdict: 'ok' }),
      makeMeasurement({ probeId: probe.id, at: at(-45), verdict: 'tls.reset' }),
      makeMeasurement({ probeId: probe.id, at: at(-5), verdict: 'tls.reset' }),
      makeMeasurement({ probeId: probe.id, at: at(-4), verdict: 'ok', asn: 21299 }),
      makeMeasurement({ probeId: probe.id, at: at(-3), target: { id: 'telegram', category: 'messenger' } }),
    ];
    expect(results(await c.post(probe, ms)).every((r) => r.status === 'accepted')).toBe(true);
    const from = new Date(T0 - 3_600_000).toISOString();
    const to = new Date(T0).toISOString();
    const all = await request(`${c.url}/api/v1/series?target=youtube&from=${from}&to=${to}&step=30m`);
    expect(all.status).toBe(200);
    expect(all.json()).toEqual({
      target: 'youtube',
      asn: null,
      from,
      to,
      step_s: 1800,
      points: [
        { t: new Date(T0 - 3_600_000).toISOString(), count: 2, blocked: 1, partial: 0, verdicts: { ok: 1, 'tls.reset': 1 } },
        { t: new Date(T0 - 1_800_000).toISOString(), count: 2, blocked: 1, partial: 0, verdicts: { ok: 1, 'tls.reset': 1 } },
      ],
    });
    const kar = await request(`${c.url}/api/v1/series?target=youtube&asn=AS21299&from=${from}&to=${to}&step=10m`);
    expect((kar.json() as { points: unknown[] }).points).toEqual([{ t: new Date(T0 - 600_000).toISOString(), count: 1, blocked: 0, partial: 0, verdicts: { ok: 1 } }]);
    for (const q of ['target=youtube&step=7m', 'target=nope', 'step=1h', `target=youtube&from=${to}&to=${from}`, 'target=youtube&asn=x', 'target=youtube&from=yesterday']) {
      const bad = await request(`${c.url}/api/v1/series?${q}`);
      expect([q, bad.status, errorCode(bad)]).toEqual([q, 400, 'bad_query']);
    }
  });

  it('serves healthz, metrics and JSON 404s', async () => {
    const m = makeMeasurement({ probeId: probe.id, at: T0 });
    await c.post(probe, [m, { ...m, id: 'nope' }]);
    c.clock.advance(1);
    await c.post(probe, [], { body: Buffer.from('xx') });
    expect((await request(`${c.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const metrics = await request(`${c.url}/metrics`);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.text).toContain('ashyq_ingest_measurements_total{status="accepted"} 1\n');
    expect(metrics.text).toContain('ashyq_ingest_measurements_total{status="rejected"} 1\n');
    expect(metrics.text).toContain('ashyq_ingest_rejects_total{reason="bad_id"} 1\n');
    expect(metrics.text).toContain('ashyq_ingest_rejects_total{reason="bad_gzip"} 1\n');
    expect(metrics.text).toContain('ashyq_probes_registered 1\n');
    const missing = await request(`${c.url}/api/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(errorCode(missing)).toBe('not_found');
  });

  it('reports each sink\'s backlog in /metrics and wakes sinks after accepted batches', async () => {
    let notified = 0;
    // A follower that never takes a handoff (it would read the archive): each accepted batch is offered once.
    const follower = { name: 'influx', start: async () => undefined, stop: async () => undefined, rewind: async () => undefined, offer: () => (notified++, false), backlog: () => 7 };
    const withSink = await startCollector({
      deps: { followers: () => [follower] },
    });
    try {
      const p = await withSink.register();
      await withSink.post(p, [makeMeasurement({ probeId: p.id, at: T0 })]);
      withSink.clock.advance(1);
      await withSink.post(p, [{}]);
      expect(notified).toBe(1);
      expect((await request(`${withSink.url}/metrics`)).text).toContain('ashyq_influx_backlog{sink="influx"} 7\n');
    } finally {
      await withSink.dispose();
    }
  });
});
