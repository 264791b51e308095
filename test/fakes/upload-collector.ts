// A real collector for the upload tests: HTTPS with a chosen lab certificate (or plain HTTP), reachable only through a loopback Network.
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { AsnLookup } from '../../collector/ingest/asn.js';
import type { CollectorConfig } from '../../collector/config.js';
import { createCollector, type Collector } from '../../collector/app.js';
import { targetList } from '../../collector/targets/list.js';
import type { Network } from '../../probe/deps.js';
import type { SurgeAnswer } from '../../contract/wire.js';
import { ManualClock, tempDir, testConfig, testTargets, request } from '../fixtures/collector/helpers.js';
import { loopbackNetwork, type LoopbackNetwork } from './loopback-network.js';
import type { CertKey } from './pki.js';

/** The collector's name in the probe's config; resolved only by the test network. */
export const COLLECTOR_NAME = 'collector.ashyq.test';
/** Its "public" address (TEST-NET-3): mapped to a loopback port, never dialled. */
export const COLLECTOR_IP = '203.0.113.10';

export interface TestCollector {
  /** https://collector.ashyq.test or http://collector.ashyq.test (default ports, mapped to loopback). */
  url: string;
  /** The loopback port it listens on now. */
  port: number;
  dir: string;
  clock: ManualClock;
  collector: Collector;
  /** Resolves COLLECTOR_NAME to COLLECTOR_IP and dials COLLECTOR_IP's port on the loopback listener. */
  network: LoopbackNetwork;
  /** Loopback ports by "ip:port" as the test network maps them (add entries for other fake hosts). */
  map: Record<string, number>;
  /** Close the listener (connections are then refused) keeping the data. */
  stop(): Promise<void>;
  /** Open again over the same data directory (a new loopback port, mapped in place). */
  start(): Promise<void>;
  dispose(): Promise<void>;
  /** Measurement ids in the archive, one per archived line (a duplicate would appear twice). */
  archivedIds(): Promise<string[]>;
  metrics(): Promise<string>;
}

export interface TestCollectorOptions {
  /** The certificate served (leaf, then its chain); null serves plain HTTP. */
  serve: CertKey | null;
  clock?: ManualClock;
  surge?: SurgeAnswer | null;
  limits?: Partial<CollectorConfig['limits']>;
  asnLookup?: AsnLookup;
}

/** getaddrinfo of the test world: only COLLECTOR_NAME has an (IPv4) address. */
export const testLookup: Network['lookup'] = async (domain, family) => {
  if (domain === COLLECTOR_NAME && family === 4) return [COLLECTOR_IP];
  const err = new Error(`getaddrinfo ENOTFOUND ${domain}`);
  Object.assign(err, { code: 'ENOTFOUND' });
  throw err;
};

export async function startTestCollector(o: TestCollectorOptions): Promise<TestCollector> {
  const dir = await tempDir('ashyq-upload-');
  const clock = o.clock ?? new ManualClock(Date.now());
  const secure = o.serve !== null;
  let tls: { cert: string; key: string } | null = null;
  if (o.serve !== null) {
    tls = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
    await writeFile(tls.cert, [o.serve.cert, ...o.serve.chain].join('\n'));
    await writeFile(tls.key, o.serve.key);
  }
  const config = { ...testConfig(path.join(dir, 'data'), o.limits ? { limits: o.limits } : {}), tls };
  const base = await testTargets();
  const targets = o.surge ? targetList(base.targets, o.surge) : base;
  const map: Record<string, number> = {};
  const key = `${COLLECTOR_IP}:${secure ? 443 : 80}`;
  const network = loopbackNetwork(map, testLookup);

  const open = async (): Promise<Collector> => {
    const c = await createCollector(config, { clock, log: false, targets, ...(o.asnLookup ? { asnLookup: o.asnLookup } : {}) });
    await c.app.listen({ host: '127.0.0.1', port: 0 });
    map[key] = (c.app.server.address() as { port: number }).port;
    return c;
  };

  const t: TestCollector = {
    url: `${secure ? 'https' : 'http'}://${COLLECTOR_NAME}`,
    port: 0,
    dir,
    clock,
    collector: await open(),
    network,
    map,
    async stop() {
      await t.collector.close();
    },
    async start() {
      t.collector = await open();
      t.port = map[key]!;
    },
    async dispose() {
      await t.collector.close();
      await rm(dir, { recursive: true, force: true });
    },
    async archivedIds() {
      const archive = path.join(dir, 'data', 'archive');
      const ids: string[] = [];
      for (const name of (await readdir(archive)).sort()) {
        let text: string;
        if (name.endsWith('.jsonl')) text = await readFile(path.join(archive, name), 'utf8');
        else if (name.endsWith('.jsonl.gz')) text = gunzipSync(await readFile(path.join(archive, name))).toString('utf8');
        else continue;
        for (const line of text.split('\n')) if (line.trim() !== '') ids.push((JSON.parse(line) as { measurement: { id: string } }).measurement.id);
      }
      return ids;
    },
    async metrics() {
      if (!secure) return (await request(`http://127.0.0.1:${t.port}/metrics`)).text;
      return new Promise((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: t.port, path: '/metrics', servername: COLLECTOR_NAME, rejectUnauthorized: false, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          })
          .on('error', reject);
      });
    },
  };
  t.port = map[key]!;
  return t;
}

/** The value of an unlabelled sample (or one with exactly these labels) in Prometheus text. */
export function metricValue(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}
