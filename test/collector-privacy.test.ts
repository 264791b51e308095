// Volunteer addresses: looked up for whoami and for archived records, never written to the data dir or the logs.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { ArchivedRecord } from '../collector/storage/archive.js';
import type { AsnInfo } from '../collector/ingest/asn.js';
import { makeMeasurement, request, startCollector, T0, TOKEN, newKeyPair, type RunningCollector } from './fixtures/collector/helpers.js';

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else out.push(full);
  }
  return out;
}

async function occurrences(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const file of await filesUnder(dir)) {
    const bytes = await readFile(file);
    if (bytes.includes(needle) || bytes.includes(Buffer.from(needle, 'utf16le'))) hits.push(file);
  }
  return hits;
}

const KZ: AsnInfo = { asn: 9198, cc: 'KZ', network: 'JSC Kazakhtelecom' };

let running: RunningCollector | undefined;
afterEach(async () => {
  await running?.dispose();
  running = undefined;
});

/** Start a collector whose ASN lookup answers with `answer` and records every address it was asked about. */
async function recordingCollector(answer: (ip: string) => AsnInfo | null, options: { trustProxy?: boolean } = {}) {
  const seen: string[] = [];
  running = await startCollector({
    ...options,
    deps: {
      asnLookup: (ip) => {
        seen.push(ip);
        return answer(ip);
      },
      log: { level: 'trace', stream: { write: (line: string) => void running?.logs.push(line) } },
    },
  });
  return { c: running, seen };
}

/** Every record in the collector's archive. */
async function archived(c: RunningCollector): Promise<ArchivedRecord[]> {
  const records: ArchivedRecord[] = [];
  for await (const { record } of c.collector.archive.read()) records.push(record);
  return records;
}

/** Exercise every route from `from` (a loopback source address, or a forwarded header). */
async function exercise(c: RunningCollector, source: { localAddress?: string; headers?: Record<string, string> }) {
  const opts = { ...(source.localAddress ? { localAddress: source.localAddress } : {}), headers: source.headers ?? {} };
  const whoami = await request(`${c.url}/api/v1/whoami`, opts);
  const keys = newKeyPair();
  const reg = await request(`${c.url}/api/v1/probes`, {
    ...opts,
    method: 'POST',
    headers: { ...opts.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ enrollment_token: TOKEN, public_key: keys.publicKeyPem }),
  });
  const probe = { id: (reg.json() as { probe_id: string }).probe_id, ...keys };
  const good = makeMeasurement({ probeId: probe.id, at: T0, asn: null });
  const accepted = await c.post(probe, [good, { ...good, id: 'bad' }], { ...opts });
  c.clock.advance(1);
  await c.post(probe, [], { ...opts, body: gzipSync('not json') });
  await c.post(probe, [], { ...opts, body: Buffer.from('not gzip') });
  await request(`${c.url}/api/v1/probes`, { ...opts, method: 'POST', headers: { ...opts.headers, 'content-type': 'application/json' }, body: '{' });
  await request(`${c.url}/api/v1/series?target=youtube`, opts);
  await request(`${c.url}/nowhere`, opts);
  return { whoami, accepted, good };
}

describe('volunteer address privacy', () => {
  it('answers whoami from the connection address and never stores or logs it', async () => {
    const { c, seen } = await recordingCollector((ip) => (ip === '127.0.0.77' ? KZ : null));
    const { whoami, accepted, good } = await exercise(c, { localAddress: '127.0.0.77' });
    expect(whoami.status).toBe(200);
    expect(whoami.json()).toEqual(KZ);
    expect(whoami.headers['cache-control']).toBe('no-store');
    expect(accepted.status).toBe(200);
    expect(seen).toContain('127.0.0.77');

    // The archived record carries the looked-up network (the measurement said asn null).
    const records = await archived(c);
    expect(records.map((r) => [r.measurement.id, r.asn, r.cc, r.network])).toEqual([[good.id, 9198, 'KZ', 'JSC Kazakhtelecom']]);

    await c.stop();
    expect(c.logs.some((l) => l.includes('"url":"/api/v1/whoami"'))).toBe(true); // request logging is on
    expect(c.logs.filter((l) => l.includes('127.0.0.77'))).toEqual([]);
    expect(c.logs.filter((l) => /remoteAddress|remotePort/.test(l))).toEqual([]);
    // Paths without their query strings (one may name a probe).
    expect(c.logs.some((l) => l.includes('"url":"/api/v1/series"'))).toBe(true);
    expect(c.logs.filter((l) => l.includes('target=youtube'))).toEqual([]);
    expect(await occurrences(c.dir, '127.0.0.77')).toEqual([]);
  });

  it('with trust_proxy, looks up the forwarded address and forgets it too', async () => {
    const { c, seen } = await recordingCollector((ip) => (ip === '203.0.113.9' ? KZ : null), { trustProxy: true });
    const { whoami } = await exercise(c, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(whoami.json()).toEqual(KZ);
    expect(seen).toContain('203.0.113.9');
    await c.stop();
    expect(c.logs.length).toBeGreaterThan(10);
    expect(c.logs.filter((l) => l.includes('203.0.113.9'))).toEqual([]);
    expect(await occurrences(c.dir, '203.0.113.9')).toEqual([]);
  });

  it("through the volunteer's proxy (x-ashyq-route: proxy), keeps the network the probe states instead of the proxy's", async () => {
    const { c, seen } = await recordingCollector(() => ({ asn: 24940, cc: 'DE', network: 'a hosting provider (the proxy)' }));
    const p = await c.register();
    const proxied = makeMeasurement({ probeId: p.id, at: T0, asn: 21299 });
    const direct = makeMeasurement({ probeId: p.id, at: T0 + 1, asn: 21299 });
    expect((await c.post(p, [proxied], { headers: { 'x-ashyq-route': 'proxy' } })).status).toBe(200);
    expect(seen).toEqual([]);
    c.clock.advance(1);
    expect((await c.post(p, [direct])).status).toBe(200);
    expect(seen).toHaveLength(1);
    const records = new Map((await archived(c)).map((r) => [r.measurement.id, r]));
    expect(records.get(proxied.id)).toMatchObject({ asn: 21299, cc: 'KZ', network: 'JSC Kazakhtelecom' });
    expect(records.get(direct.id)).toMatchObject({ asn: 24940, cc: 'DE' });
  });

  it('answers nulls without a lookup and keeps what the measurement states', async () => {
    running = await startCollector();
    const c = running;
    expect((await request(`${c.url}/api/v1/whoami`)).json()).toEqual({ asn: null, cc: null, network: null });
    const p = await c.register();
    await c.post(p, [makeMeasurement({ probeId: p.id, at: T0, asn: 21299 })]);
    expect((await archived(c)).map((r) => r.asn)).toEqual([21299]);
  });
});
