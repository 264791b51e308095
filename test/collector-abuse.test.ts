// Thousands of generated bad inputs at a running collector: each answered right, exactly the valid items stored.
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchAnswer, ErrorAnswer, ItemResult } from '../contract/wire.js';
import { signBatch } from '../contract/wire.js';
import {
  makeMeasurement,
  newKeyPair,
  request,
  startCollector,
  T0,
  TOKEN,
  type HttpAnswer,
  type RunningCollector,
  type TestProbe,
} from './fixtures/collector/helpers.js';

/** Deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}
type Rng = ReturnType<typeof rng>;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Site {
  path: string;
  parent: Json[] | { [key: string]: Json };
  key: string | number;
  value: Json;
}

/** Every value in a measurement, with its JSON path in the validator's notation. */
function sites(value: Json, path = '', out: Site[] = []): Site[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      const p = `${path}[${i}]`;
      out.push({ path: p, parent: value, key: i, value: v });
      sites(v, p, out);
    });
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = path === '' ? k : `${path}.${k}`;
      out.push({ path: p, parent: value, key: k, value: v });
      sites(v, p, out);
    }
  }
  return out;
}

interface Poison {
  item: unknown;
  code: ItemResult['code'];
  /** Expected reason prefix or exact text. */
  reason?: string | RegExp;
  id: string | null;
}

const SIGNER_KEYS = new Set(['probe.id']);

/** One invalid measurement and the answer it must get. */
function poison(r: Rng, probeId: string, at: number): Poison {
  const m = JSON.parse(JSON.stringify(makeMeasurement({ probeId, at, verdict: r.pick(['ok', 'tls.reset'] as const) }))) as { [key: string]: Json };
  const id = m['id'] as string;
  const all = sites(m);
  const kind = r.int(14);
  switch (kind) {
    case 0: {
      // A primitive replaced by a container: always a type error at that path.
      const leaves = all.filter((s) => s.value === null || typeof s.value !== 'object');
      const s = r.pick(leaves);
      (s.parent as Record<string | number, Json>)[s.key] = r.next() < 0.5 ? { x: 1 } : [1, 2];
      if (s.path === 'schema') return { item: m, code: 'unsupported_schema', reason: /^schema: unsupported schema/, id };
      return { item: m, code: 'schema', reason: new RegExp(`^${escape(s.path)}: expected`), id: s.path === 'id' ? null : id };
    }
    case 1: {
      // A key deleted.
      const keyed = all.filter((s) => typeof s.key === 'string' && !s.path.includes('.headers.'));
      const s = r.pick(keyed);
      delete (s.parent as Record<string, Json>)[s.key as string];
      return { item: m, code: 'schema', reason: `${s.path}: missing`, id: s.path === 'id' ? null : id };
    }
    case 2: {
      // An unknown key added to an object (other than the free-form headers map).
      const objects = [{ path: '', value: m as Json }, ...all].filter(
        (s) => s.value !== null && typeof s.value === 'object' && !Array.isArray(s.value) && !s.path.endsWith('.headers'),
      );
      const s = r.pick(objects);
      const key = `zz_${r.int(1e6)}`;
      (s.value as Record<string, Json>)[key] = 'x';
      return { item: m, code: 'schema', reason: `${s.path === '' ? '$' : s.path}: unknown key "${key}"`, id };
    }
    case 3: {
      const withFailure = all.filter((s) => s.value !== null && typeof s.value === 'object' && !Array.isArray(s.value) && 'failure' in s.value);
      const s = r.pick(withFailure);
      const junk = r.pick(['boom', 'timeout', 'ECONNRESET', 'GENERIC_TIMEOUT_ERROR', '', 'connection_reset ']);
      (s.value as Record<string, Json>)['failure'] = junk;
      return { item: m, code: 'unknown_failure', reason: `${s.path}.failure: unknown failure ${JSON.stringify(junk)}`, id };
    }
    case 4: {
      const v = r.pick(['blocked', 'OK', 'tls', 'dns.poisoned']);
      (m['verdict'] as Record<string, Json>)['verdict'] = v;
      return { item: m, code: 'unknown_verdict', reason: `verdict.verdict: unknown verdict ${JSON.stringify(v)}`, id };
    }
    case 5: {
      const bad = r.pick(['bad', `${id.slice(0, 25)}I`, id.toLowerCase(), `8${id.slice(1)}`, `${id}0`]);
      m['id'] = bad;
      return { item: m, code: 'bad_id', reason: /^id: not a ULID/, id: bad };
    }
    case 6:
      m['started_at'] = new Date(at - (15 + r.int(100)) * 86_400_000).toISOString();
      return { item: m, code: 'too_old', reason: /^started_at: /, id };
    case 7:
      m['started_at'] = new Date(at + (11 + r.int(10_000)) * 60_000).toISOString();
      return { item: m, code: 'in_future', reason: /^started_at: /, id };
    case 8:
      m['target'] = { id: r.pick(['myspace', 'YOUTUBE', 'youtube ', 'x'.repeat(100)]), category: 'video' };
      return { item: m, code: 'unknown_target', reason: /^target\.id: unknown target/, id };
    case 9:
      m['target'] = { id: 'telegram', category: 'video' };
      return { item: m, code: 'target_mismatch', reason: /^target\.category: /, id };
    case 10:
      (m['probe'] as Record<string, Json>)['id'] = `other-${r.int(1e9)}`;
      return { item: m, code: 'probe_mismatch', reason: /^probe\.id: /, id };
    case 11: {
      const item = r.pick<Json>([null, 42, 'measurement', [], [m], true]);
      return { item, code: 'schema', reason: /^\$: expected an object/, id: null };
    }
    case 12: {
      // Values of the right type but out of range or malformed.
      const edits: Array<[string, (x: Record<string, Json>) => void]> = [
        ['evidence.tcp[0].port', (x) => ((x['evidence'] as any).tcp[0].port = 70000)],
        ['evidence.tcp[0].ip', (x) => ((x['evidence'] as any).tcp[0].ip = '999.1.1.1')],
        ['verdict.confidence', (x) => ((x['verdict'] as any).confidence = 1.5)],
        ['probe.cc', (x) => ((x['probe'] as any).cc = 'kz')],
        ['started_at', (x) => (x['started_at'] = '2024-05-09 07:00:00')],
        ['runtime_ms', (x) => (x['runtime_ms'] = -1)],
        ['evidence.tcp[0].operation', (x) => ((x['evidence'] as any).tcp[0].operation = 'dial')],
        ['probe.software.name', (x) => ((x['probe'] as any).software.name = 'ooniprobe')],
        ['evidence.http[0].status', (x) => ((x['evidence'] as any).http[0].status = 20.5)],
      ];
      const [path, edit] = r.pick(edits);
      edit(m);
      return { item: m, code: 'schema', reason: new RegExp(`^${escape(path)}: `), id };
    }
    default: {
      m['schema'] = r.pick<Json>([2, 0, '1']);
      return { item: m, code: 'unsupported_schema', reason: /^schema: unsupported schema/, id };
    }
  }
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface Sent {
  label: string;
  res: HttpAnswer;
}

let c: RunningCollector;
let probes: TestProbe[];
const R = rng(20190509);

beforeAll(async () => {
  c = await startCollector({
    limits: { max_body_bytes: 256 * 1024, max_json_bytes: 2 * 1024 * 1024, max_batch_items: 40, rate_per_probe: { per_minute: 600, burst: 60 } },
  });
  probes = [];
  for (let i = 0; i < 60; i++) probes.push(await c.register());
});

afterAll(async () => {
  await c.dispose();
});

describe('abuse', () => {
  it('answers a few thousand bad inputs right and stores exactly the valid items', async () => {
    const expected = new Set<string>(); // ids that must end up stored
    const accepted: Array<{ id: string; probe: TestProbe; item: unknown }> = [];
    const signedEarlier: Array<{ headers: Record<string, string>; body: Buffer }> = [];
    const failures: string[] = [];
    const counts = new Map<string, number>();
    const check = (label: string, ok: boolean, detail: () => string) => {
      counts.set(label, (counts.get(label) ?? 0) + 1);
      if (!ok && failures.length < 20) failures.push(`${label}: ${detail()}`);
    };
    const expectError = (label: string, res: HttpAnswer, status: number, code: string) => {
      let got = '';
      try {
        got = (res.json() as ErrorAnswer).error.code;
      } catch {
        got = `(not JSON: ${res.text.slice(0, 40)})`;
      }
      check(label, res.status === status && got === code, () => `${res.status} ${got}, wanted ${status} ${code}`);
    };
    const send = (headers: Record<string, string>, body: Buffer) =>
      request(`${c.url}/api/v1/measurements`, { method: 'POST', headers, body });

    for (let round = 0; round < 3000; round++) {
      c.clock.advance(1);
      const now = c.clock.now();
      const probe = probes[round % probes.length]!;
      const kind = R.next();

      if (kind < 0.45) {
        // A valid batch with one poisoned item (and sometimes an old id again).
        const good = Array.from({ length: 1 + R.int(4) }, () => makeMeasurement({ probeId: probe.id, at: now - R.int(3_600_000) }));
        const bad = poison(R, probe.id, now);
        const items: unknown[] = [...good];
        const at = R.int(items.length + 1);
        items.splice(at, 0, bad.item);
        let dupAt = -1;
        const mine = accepted.filter((a) => a.probe === probe);
        if (mine.length > 0 && R.next() < 0.3) {
          dupAt = items.length;
          items.push(R.pick(mine).item);
        }
        const body = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: items }));
        const headers = { ...signBatch(probe.privateKey, probe.id, body, now) };
        if (R.next() < 0.1) signedEarlier.push({ headers, body });
        const res = await send(headers, body);
        if (res.status !== 200) {
          check('poisoned batch', false, () => `${res.status} ${res.text.slice(0, 200)}`);
          continue;
        }
        const results = (res.json() as BatchAnswer).results;
        let gi = 0;
        results.forEach((result, index) => {
          if (index === at) {
            const reasonOk =
              bad.reason === undefined ||
              (typeof bad.reason === 'string' ? result.reason === bad.reason : bad.reason.test(result.reason ?? ''));
            check(`poison ${bad.code}`, result.status === 'rejected' && result.code === bad.code && reasonOk && result.id === bad.id && result.index === index, () =>
              `${JSON.stringify(result)} wanted ${bad.code} ${String(bad.reason)} id ${bad.id}`,
            );
          } else if (index === dupAt) {
            check('duplicate item', result.status === 'duplicate', () => JSON.stringify(result));
          } else {
            const m = good[gi++]!;
            check('valid item', result.status === 'accepted' && result.id === m.id, () => JSON.stringify(result));
            if (result.status === 'accepted') {
              expected.add(m.id);
              accepted.push({ id: m.id, probe, item: m });
            }
          }
        });
        check('result count', results.length === items.length, () => `${results.length} for ${items.length}`);
        continue;
      }

      const m = makeMeasurement({ probeId: probe.id, at: now });
      const goodBody = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: [m] }));
      const signed = (body: Buffer, p: TestProbe = probe, at = now) => ({ ...signBatch(p.privateKey, p.id, body, at) });
      const faults: Array<() => Promise<void>> = [
        async () => {
          const body = randomBytes(1 + R.int(2000));
          expectError('random bytes', await send(signed(body), body), 400, 'bad_gzip');
        },
        async () => {
          const body = goodBody.subarray(0, 10 + R.int(goodBody.length - 20));
          expectError('truncated gzip', await send(signed(body), body), 400, 'bad_gzip');
        },
        async () => {
          const text = JSON.stringify({ probe_id: probe.id, measurements: [m] });
          const body = gzipSync(text.slice(0, R.int(text.length - 1)) + R.pick(['', ']]', ',,', '\u0000']));
          expectError('truncated JSON', await send(signed(body), body), 400, 'bad_json');
        },
        async () => {
          const body = gzipSync(JSON.stringify(R.pick<Json>([null, 1, 'batch', [], [m] as unknown as Json])));
          expectError('not an object', await send(signed(body), body), 400, 'bad_batch');
        },
        async () => {
          const body = gzipSync(JSON.stringify({ probe_id: probes[(round + 1) % probes.length]!.id, measurements: [m] }));
          expectError('other probe_id', await send(signed(body), body), 400, 'bad_batch');
        },
        async () => {
          const body = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: R.pick<Json>([{}, 'all', null, 5]) }));
          expectError('measurements not a list', await send(signed(body), body), 400, 'bad_batch');
        },
        async () => {
          const body = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: Array.from({ length: 41 }, () => 0) }));
          expectError('too many items', await send(signed(body), body), 413, 'too_many_items');
        },
        async () => {
          const body = randomBytes(256 * 1024 + 1 + R.int(10_000));
          expectError('oversized body', await send(signed(body), body), 413, 'too_large');
        },
        async () => {
          const body = gzipSync(Buffer.alloc(2 * 1024 * 1024 + 1, 0x20));
          expectError('gzip bomb', await send(signed(body), body), 413, 'too_large');
        },
        async () => {
          expectError('forged signature', await send(signBatch(newKeyPair().privateKey, probe.id, goodBody, now) as unknown as Record<string, string>, goodBody), 401, 'bad_signature');
        },
        async () => {
          const other = gzipSync(JSON.stringify({ probe_id: probe.id, measurements: [m, m] }));
          expectError('body swapped after signing', await send(signed(goodBody), other), 401, 'bad_signature');
        },
        async () => {
          const h = signed(goodBody);
          const sig = Buffer.from(h['x-ashyq-signature'], 'base64');
          const at = R.int(sig.length);
          sig[at] = sig[at]! ^ (1 << R.int(8));
          expectError('flipped signature bit', await send({ ...h, 'x-ashyq-signature': sig.toString('base64') }, goodBody), 401, 'bad_signature');
        },
        async () => {
          const h: Record<string, string> = signed(goodBody);
          delete h[R.pick(['x-ashyq-probe', 'x-ashyq-timestamp', 'x-ashyq-signature'])];
          expectError('missing header', await send(h, goodBody), 401, 'missing_signature');
        },
        async () => {
          const h = signed(goodBody);
          expectError('garbled timestamp', await send({ ...h, 'x-ashyq-timestamp': R.pick(['soon', '-5', '1e12', '']) || 'x' }, goodBody), 401, 'bad_signature');
        },
        async () => {
          const skew = (301 + R.int(100_000)) * 1000 * (R.next() < 0.5 ? -1 : 1);
          expectError('skewed timestamp', await send(signed(goodBody, probe, now + skew), goodBody), 401, 'timestamp_skew');
        },
        async () => {
          const stranger = { id: `stranger-${R.int(1e9)}`, ...newKeyPair() };
          const body = gzipSync(JSON.stringify({ probe_id: stranger.id, measurements: [makeMeasurement({ probeId: stranger.id, at: now })] }));
          expectError('unknown probe', await send(signed(body, stranger), body), 401, 'unknown_probe');
        },
        async () => {
          const h = signed(goodBody);
          expectError('wrong media type', await send({ ...h, 'content-type': R.pick(['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) }, goodBody), 415, 'unsupported_media_type');
        },
        async () => {
          const h = signed(goodBody);
          expectError('wrong encoding', await send({ ...h, 'content-encoding': R.pick(['identity', 'br', 'deflate']) }, goodBody), 415, 'unsupported_encoding');
        },
        async () => {
          const old = signedEarlier.length > 0 ? R.pick(signedEarlier) : undefined;
          if (old === undefined) return;
          expectError('replay', await send(old.headers, old.body), 409, 'replay');
        },
        async () => {
          // Registration garbage: never a new probe.
          const body = R.pick([
            '{',
            '[]',
            JSON.stringify({ enrollment_token: 'wrong-token-wrong-token', public_key: newKeyPair().publicKeyPem }),
            JSON.stringify({ enrollment_token: TOKEN, public_key: 'not a key' }),
            JSON.stringify({ enrollment_token: TOKEN, public_key: newKeyPair().publicKeyPem, probe_id: 'a b' }),
            JSON.stringify({ enrollment_token: 5, public_key: null }),
          ]);
          const res = await request(`${c.url}/api/v1/probes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          check('bad registration', [400, 403].includes(res.status) && typeof (res.json() as ErrorAnswer).error.code === 'string', () => `${res.status} ${res.text}`);
        },
      ];
      await R.pick(faults)();
    }

    // A flood from one probe: the burst gets through, the rest is refused and not stored.
    const flooder = probes[0]!;
    let flooded = 0;
    let refused = 0;
    for (let i = 0; i < 120; i++) {
      c.clock.advance(1);
      const m = makeMeasurement({ probeId: flooder.id, at: c.clock.now() });
      const res = await c.post(flooder, [m]);
      if (res.status === 200) {
        flooded++;
        expected.add(m.id);
      } else {
        refused++;
        expectError('flood', res, 429, 'rate_limited');
        check('retry-after', Number(res.headers['retry-after']) >= 1, () => String(res.headers['retry-after']));
      }
    }

    expect(failures).toEqual([]);
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(3000);
    expect(counts.size).toBeGreaterThan(30); // every family of fault came up
    expect(refused).toBeGreaterThan(50);
    expect(flooded).toBeGreaterThan(0);

    // Exactly the valid items are stored, in the store and in the archive.
    expect(c.collector.store.measurementIds()).toEqual([...expected].sort());
    const archived: string[] = [];
    for await (const { record } of c.collector.archive.read()) archived.push(record.measurement.id);
    expect(archived.sort()).toEqual([...expected].sort());
    expect(c.collector.store.probeCount()).toBe(probes.length);
    expect(c.collector.metrics.measurementCount('accepted')).toBe(expected.size);
    expect((await request(`${c.url}/healthz`)).status).toBe(200);
  }, 120_000);
});
