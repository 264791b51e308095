// The daemon's sources of truth: the target list (collector, cache, local file), the network it states, and interception records.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTargets } from '../contract/target-list.js';
import { InterceptionRecorder } from '../probe/daemon/interception.js';
import { Location } from '../probe/daemon/location.js';
import type { LogLevel } from '../probe/daemon/log.js';
import { TARGETS_CACHE, TargetSource } from '../probe/daemon/targets.js';
import { ConfigErrors } from '../common/errors.js';
import type { TlsObservation } from '../contract/evidence.js';
import type { Measurement } from '../contract/measurement.js';
import type { Target } from '../contract/target.js';
import { UploadError, type CollectorClient } from '../probe/upload/client.js';
import { ManualClock, T0 } from './fixtures/collector/helpers.js';
import { labTargets } from './daemon-lab.js';

type Fetch = CollectorClient['fetchTargets'];
type FetchAnswer = Awaited<ReturnType<Fetch>>;

let dir: string;
let logs: Array<[LogLevel, string]>;
const log = (level: LogLevel, msg: string) => logs.push([level, msg]);

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-sources-'));
  logs = [];
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function body(targets: Target[]): string {
  return JSON.stringify({ version: 1, targets });
}

/** A collector client whose answers the test scripts, recording the ETag of each request. */
function scripted(answers: Array<FetchAnswer | Error>) {
  const etags: Array<string | null> = [];
  const client: Pick<CollectorClient, 'fetchTargets'> = {
    async fetchTargets(etag) {
      etags.push(etag);
      const next = answers.shift();
      if (next === undefined) throw new Error('no scripted answer left');
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { client, etags };
}

async function localFile(targets: Target[]): Promise<string> {
  const file = path.join(dir, 'local.yaml');
  await writeFile(file, formatTargets(targets));
  return file;
}

const SURGE = { targets: ['site-00'], interval_minutes: 10, until: '2024-05-09T12:00:00.000Z' };

describe('the target list', () => {
  it('comes from the collector at first start, is cached with its ETag and surge, and is asked for conditionally after a restart', async () => {
    const remote = labTargets(3);
    const local = await localFile(labTargets(1));
    const clock = new ManualClock(T0);
    const a = scripted([{ status: 'ok', etag: '"v1"', text: body(remote), surge: SURGE }]);
    const first = new TargetSource({ stateDir: dir, localFile: local, client: a.client, collectorName: 'c', clock, log });
    expect((await first.load()).map((t) => t.id)).toEqual(remote.map((t) => t.id));
    expect(first.status()).toMatchObject({ source: 'collector', etag: '"v1"', count: 5, last_error: null });
    expect(first.surge()).toEqual(SURGE);
    const cache = JSON.parse(await readFile(path.join(dir, TARGETS_CACHE), 'utf8')) as { etag: string; surge: unknown };
    expect(cache).toMatchObject({ etag: '"v1"', surge: SURGE });

    // Restart: the cache is used at once; the collector answers 304, and the cached surge still holds.
    const b = scripted([{ status: 'not-modified' }]);
    const second = new TargetSource({ stateDir: dir, localFile: local, client: b.client, collectorName: 'c', clock, log });
    expect((await second.load()).length).toBe(5);
    expect(second.status().source).toBe('cache');
    expect(await second.refresh()).toBe('unchanged');
    expect(b.etags).toEqual(['"v1"']);
    expect(second.surge()).toEqual(SURGE);
  });

  it('rejects a list that fails validation, keeps the last good one (and its cache), and says so once per list', async () => {
    const good = labTargets(2);
    const bad = JSON.stringify({ version: 1, targets: [{ id: 'Bad Id', name: 'x', category: 'video', domains: ['x.kz'] }] });
    const client = scripted([
      { status: 'ok', etag: '"good"', text: body(good), surge: null },
      { status: 'ok', etag: '"bad"', text: bad, surge: SURGE },
      { status: 'ok', etag: '"bad"', text: bad, surge: SURGE },
      { status: 'ok', etag: '"worse"', text: '{"version": 2}', surge: null },
    ]);
    const source = new TargetSource({ stateDir: dir, localFile: await localFile(labTargets(1)), client: client.client, collectorName: 'https://c.example', clock: new ManualClock(T0), log });
    await source.load();
    const cacheBefore = await readFile(path.join(dir, TARGETS_CACHE), 'utf8');
    expect(await source.refresh()).toBe('rejected');
    expect(await source.refresh()).toBe('rejected');
    expect(await source.refresh()).toBe('rejected');
    expect(source.targets().map((t) => t.id)).toEqual(good.map((t) => t.id));
    expect(source.surge()).toBeNull();
    expect(source.status()).toMatchObject({ source: 'collector', etag: '"good"' });
    expect(source.status().last_error).toContain('REJECTED');
    expect(source.status().last_error).toContain('https://c.example target list');
    // The good list's ETag is what the collector is asked with, so a fixed list comes through.
    expect(client.etags).toEqual([null, '"good"', '"good"', '"good"']);
    expect(await readFile(path.join(dir, TARGETS_CACHE), 'utf8')).toBe(cacheBefore);
    expect(logs.filter(([level, m]) => level === 'error' && m.includes('REJECTED'))).toHaveLength(2);
  });

  it('falls back to the local file when the collector cannot be reached at first start', async () => {
    const local = labTargets(1);
    const client = scripted([new UploadError('network', 'connect ECONNREFUSED')]);
    const source = new TargetSource({ stateDir: dir, localFile: await localFile(local), client: client.client, collectorName: 'c', clock: new ManualClock(T0), log });
    expect((await source.load()).map((t) => t.id)).toEqual(local.map((t) => t.id));
    expect(source.status()).toMatchObject({ source: 'local', last_error: 'fetching the target list: connect ECONNREFUSED' });
  });

  it('reports a pin mismatch met while fetching', async () => {
    const evidence = { sni: 'c.example' } as TlsObservation;
    const client = scripted([new UploadError('pin_mismatch', 'not pinned', { pinEvidence: evidence })]);
    const seen: TlsObservation[] = [];
    const source = new TargetSource({
      stateDir: dir,
      localFile: await localFile(labTargets(1)),
      client: client.client,
      collectorName: 'c',
      clock: new ManualClock(T0),
      log,
      onPinMismatch: (e) => seen.push(e),
    });
    await source.load();
    expect(seen).toEqual([evidence]);
  });

  it('ignores an unusable cache and treats an invalid local file as a configuration fault', async () => {
    await writeFile(path.join(dir, TARGETS_CACHE), '{"version":1,"text":"targets: 7"}');
    const badLocal = path.join(dir, 'bad.yaml');
    await writeFile(badLocal, 'targets:\n  - id: x\n');
    const source = new TargetSource({ stateDir: dir, localFile: badLocal, client: null, collectorName: 'c', clock: new ManualClock(T0), log });
    await expect(source.load()).rejects.toBeInstanceOf(ConfigErrors);
    expect(logs.some(([level, m]) => level === 'warn' && m.includes('is unusable'))).toBe(true);
  });
});

describe('the network a measurement states', () => {
  const answer = { asn: 9198, cc: 'KZ', network: 'JSC Kazakhtelecom' };

  it('is the collector\'s view, field by field overridden by the config', async () => {
    const clock = new ManualClock(T0);
    const client = { whoami: async () => answer };
    const l = new Location({ config: { asn: null, cc: null, network: 'Home fibre' }, client, viaProxy: false, clock, log, maxAgeMs: 3_600_000 });
    expect(l.current()).toEqual({ asn: null, cc: null, network: 'Home fibre' });
    await l.refresh();
    expect(l.current()).toEqual({ asn: 9198, cc: 'KZ', network: 'Home fibre' });
    expect(l.status().source).toBe('collector');
  });

  it('is never asked through a proxy (the collector would see the proxy\'s network)', async () => {
    let asked = 0;
    const client = { whoami: async () => (asked++, answer) };
    const l = new Location({ config: { asn: null, cc: 'KZ', network: null }, client, viaProxy: true, clock: new ManualClock(T0), log, maxAgeMs: 1 });
    await l.refresh();
    expect(asked).toBe(0);
    expect(l.current()).toEqual({ asn: null, cc: 'KZ', network: null });
    expect(l.status().source).toBe('config');
  });

  it('forgets an answer that went stale without a new one', async () => {
    const clock = new ManualClock(T0);
    let up = true;
    const client = {
      whoami: async () => {
        if (!up) throw new UploadError('network', 'timeout');
        return answer;
      },
    };
    const l = new Location({ config: { asn: null, cc: null, network: null }, client, viaProxy: false, clock, log, maxAgeMs: 3_600_000 });
    await l.refresh();
    up = false;
    clock.advance(30 * 60_000);
    await l.refresh();
    expect(l.current()).toEqual(answer);
    clock.advance(31 * 60_000);
    await l.refresh();
    expect(l.current()).toEqual({ asn: null, cc: null, network: null });
    expect(l.status().source).toBe('none');
    expect(l.lastError()).toBe('timeout');
  });
});

describe('interception records', () => {
  function evidence(spki: string): TlsObservation {
    return {
      domain: 'c.example',
      ip: '203.0.113.5',
      port: 443,
      sni: 'c.example',
      version: 'TLSv1.3',
      cipher: 'TLS_AES_256_GCM_SHA384',
      alpn: 'http/1.1',
      chain: [{ subject: 'CN=c.example', issuer: 'C=KZ, CN=Qaznet Trust Network', fingerprint256: 'AA', spki_sha256: spki, serial: '01', valid_from: 'x', valid_to: 'y', san: ['c.example'] }],
      trusted: false,
      hostname_ok: true,
      validation_error: 'SELF_SIGNED_CERT_IN_CHAIN',
      rtt_ms: 12.5,
      failure: null,
      operation: null,
      error: null,
      neutral: null,
    };
  }

  it('are one tls.interception measurement of ashyq-collector per certificate and interval', async () => {
    const clock = new ManualClock(T0);
    const spooled: Measurement[] = [];
    const probe = { id: 'probe-0001', asn: null, cc: 'KZ', network: null, software: { name: 'ashyq-probe' as const, version: 't' } };
    const r = new InterceptionRecorder({ spool: { append: async (m) => void spooled.push(m) }, probe: () => probe, clock, log, minGapMs: 3_600_000 });
    expect(r.record(evidence('key-a'))).toBe(true);
    expect(r.record(evidence('key-a'))).toBe(false);
    expect(r.record(evidence('key-b'))).toBe(true);
    clock.advance(3_600_000);
    expect(r.record(evidence('key-a'))).toBe(true);
    await r.flush();
    expect(spooled).toHaveLength(3);
    expect(r.recorded).toBe(3);
    const m = spooled[0]!;
    expect(m.target).toEqual({ id: 'ashyq-collector', category: 'circumvention' });
    expect(m.verdict).toMatchObject({ verdict: 'tls.interception', layer: 'tls', subjects: ['c.example'] });
    expect(m.evidence.tls).toEqual([evidence('key-a')]);
    expect(m.probe).toEqual(probe);
    expect(new Set(spooled.map((x) => x.id)).size).toBe(3);
    expect(logs.filter(([level]) => level === 'error')).toHaveLength(3);
  });
});
