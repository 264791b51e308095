// The daemon's end-to-end lab: loopback fakes to measure, the real collector over pinned TLS, and the daemon as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { DEFAULT_LIMITS, type CollectorConfig, DEFAULT_EVENTS } from '../collector/config.js';
import { createCollector, type Collector } from '../collector/app.js';
import { targetList } from '../collector/targets/list.js';
import { formatTargets } from '../contract/target-list.js';
import { systemClock } from '../common/clock.js';
import type { Target } from '../contract/target.js';
import { spkiSha256 } from '../probe/upload/pin.js';
import type { SurgeAnswer } from '../contract/wire.js';
import { startFakeDns, type FakeDnsServer } from './fakes/dns-server.js';
import { endpointKey } from './fakes/loopback-network.js';
import { makeLabPki, type LabPki } from './fakes/pki.js';
import { startSilentListener } from './fakes/tcp-censor.js';
import { startTlsServer, type FakeTlsServer } from './fakes/tls-server.js';
import { tempDir, TOKEN } from './fixtures/collector/helpers.js';

const CHILD = fileURLToPath(new URL('./daemon-child.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The collector's name and "public" address in the lab (TEST-NET-3, mapped to loopback, never dialled). */
export const COLLECTOR_HOST = 'collector.daemon.test';
export const COLLECTOR_IP = '203.0.113.20';

/** What the child process is told: the probe config file, the loopback map and the fake resolver, test-only overrides. */
export interface ChildSpec {
  configFile: string;
  map: Record<string, number>;
  dnsPort: number;
  /** Replaces parts of the loaded config (values the config file cannot hold, e.g. a 3-second interval). */
  schedule?: Partial<{ interval_minutes: number; jitter_fraction: number; surge_min_interval_minutes: number; surge_max_hours: number; data_budget_mb: number }>;
  spoolCapBytes?: number;
  stopGraceMs?: number;
}

function canary(id: string, where: 'domestic' | 'international', domain: string): Target {
  return { id, name: id, category: 'canary', canary: where, domains: [domain], endpoints: [], ports: [443], tls_ports: [443], http: { path: '/', status: [200] } };
}

/** n measured targets (each one domain, TLS and HTTPS) and two canaries. */
export function labTargets(n: number): Target[] {
  const list: Target[] = [];
  for (let i = 0; i < n; i++) {
    const id = `site-${String(i).padStart(2, '0')}`;
    list.push({ id, name: id, category: 'news', domains: [`www.${id}.kz`], endpoints: [], ports: [443], tls_ports: [443], http: { path: '/', status: [200] } });
  }
  list.push(canary('canary-domestic', 'domestic', 'egov.kz'), canary('canary-international', 'international', 'www.wikipedia.org'));
  return list;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface DaemonProcess {
  proc: ChildProcess;
  /** Every line the daemon logged so far. */
  lines: string[];
  /** Ids of the measurements the daemon logged as taken (after the spool append resolved). */
  taken(): string[];
  /** Resolves once a logged line satisfies `test` (rejects after timeoutMs or when the process ends first). */
  waitForLine(test: (line: string) => boolean, timeoutMs: number): Promise<string>;
  waitForTaken(count: number, timeoutMs: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

export interface LabCollectorOptions {
  /** Serve this certificate instead of the one whose key is pinned. */
  wrongCertificate?: boolean;
  surge?: SurgeAnswer | null;
}

export interface Interceptor {
  /** TCP connections accepted (each one met the interception certificate). */
  connections: number;
  /** Handshakes the server saw complete (the client may close before its Finished arrives). */
  handshakes: number;
  plaintextBytes: number;
  close(): Promise<void>;
}

export interface DaemonLab {
  dir: string;
  pki: LabPki;
  targets: Target[];
  pin: string;
  map: Record<string, number>;
  dns: FakeDnsServer;
  collectorPort: number;
  collector: Collector | null;
  /**
   * An interceptor in the collector's place (127.0.0.1:collectorPort): completes TLS handshakes with
   * the fake national CA's certificate and counts every plaintext byte a client sends after them.
   */
  startInterceptor(): Promise<Interceptor>;
  /** The real collector on 127.0.0.1:collectorPort, HTTPS with the lab leaf (whose key is pinned). */
  startCollector(options?: LabCollectorOptions): Promise<Collector>;
  stopCollector(): Promise<void>;
  /** Measurement ids in the collector's archive, one entry per archived line (a duplicate would appear twice). */
  archivedIds(): Promise<string[]>;
  archived(): Promise<Array<{ probe_id: string; measurement: { id: string; target: { id: string }; verdict: { verdict: string } } }>>;
  metrics(): Promise<string>;
  /** Writes the probe config (extra: more YAML at the end); returns its path. */
  writeConfig(options?: { timeoutMs?: number; extra?: string; collector?: boolean }): Promise<string>;
  stateDir: string;
  spawnDaemon(spec?: Omit<ChildSpec, 'configFile' | 'map' | 'dnsPort'> & { configFile?: string }): Promise<DaemonProcess>;
  close(): Promise<void>;
}

export interface DaemonLabOptions {
  /** Measured targets besides the two canaries (default 6). */
  targets?: number;
  /** The first `stalled` targets answer TCP but never TLS: their handshakes run into the step timeout. */
  stalled?: number;
}

export async function startDaemonLab(options: DaemonLabOptions = {}): Promise<DaemonLab> {
  const dir = await tempDir('ashyq-daemon-');
  const targets = labTargets(options.targets ?? 6);
  const domains = targets.flatMap((t) => t.domains);
  const pki = await makeLabPki([...domains, COLLECTOR_HOST]);
  const ipOf = (i: number) => `45.60.7.${i + 1}`;
  const dns = await startFakeDns((name, qtype) => {
    if (qtype !== 'A') return { kind: 'nodata' };
    if (name === COLLECTOR_HOST) return { kind: 'answer', addresses: [COLLECTOR_IP] };
    const i = domains.indexOf(name);
    return i >= 0 ? { kind: 'answer', addresses: [ipOf(i)] } : { kind: 'nxdomain' };
  });
  const site: FakeTlsServer = await startTlsServer({
    cert: pki.leaf.cert,
    key: pki.leaf.key,
    chain: pki.leaf.chain,
    onRequest: (req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<html><head><title>${req.headers.host ?? ''}</title></head><body>ok</body></html>`);
    },
  });
  const silent = await startSilentListener();
  const collectorPort = await freePort();
  const map: Record<string, number> = {};
  domains.forEach((_, i) => (map[endpointKey(ipOf(i), 443)] = i < (options.stalled ?? 0) ? silent.port : site.port));
  map[endpointKey(COLLECTOR_IP, 443)] = collectorPort;

  await writeFile(path.join(dir, 'lab-root.pem'), pki.root);
  await writeFile(path.join(dir, 'collector-cert.pem'), [pki.leaf.cert, ...pki.leaf.chain].join('\n'));
  await writeFile(path.join(dir, 'collector-key.pem'), pki.leaf.key);
  await writeFile(path.join(dir, 'wrong-cert.pem'), [pki.qaznet.leaf.cert, ...pki.qaznet.leaf.chain].join('\n'));
  await writeFile(path.join(dir, 'wrong-key.pem'), pki.qaznet.leaf.key);
  await writeFile(path.join(dir, 'local-targets.yaml'), formatTargets(targets));
  const dataDir = path.join(dir, 'collector');
  const stateDir = path.join(dir, 'state');
  await mkdir(dataDir, { recursive: true });
  const children = new Set<ChildProcess>();

  const lab: DaemonLab = {
    dir,
    pki,
    targets,
    pin: spkiSha256(pki.leaf.cert),
    map,
    dns,
    collectorPort,
    collector: null,
    stateDir,
    async startInterceptor() {
      const sockets = new Set<net.Socket>();
      const state: Interceptor = {
        connections: 0,
        handshakes: 0,
        plaintextBytes: 0,
        close: () =>
          new Promise<void>((resolve) => {
            for (const s of sockets) s.destroy();
            server.close(() => resolve());
          }),
      };
      const server = tls.createServer({ cert: [pki.qaznet.leaf.cert, ...pki.qaznet.leaf.chain].join('\n'), key: pki.qaznet.leaf.key }, (socket) => {
        sockets.add(socket);
        state.handshakes++;
        socket.on('data', (chunk: Buffer) => (state.plaintextBytes += chunk.length));
        socket.on('error', () => socket.destroy());
        socket.on('close', () => sockets.delete(socket));
      });
      server.on('tlsClientError', () => undefined);
      server.on('connection', () => state.connections++);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(collectorPort, '127.0.0.1', () => resolve());
      });
      return state;
    },
    async startCollector(o = {}) {
      if (lab.collector !== null) throw new Error('the lab collector is already running');
      const wrong = o.wrongCertificate === true;
      const config: CollectorConfig = {
        data_dir: dataDir,
        listen: { host: '127.0.0.1', port: collectorPort },
        tls: { cert: path.join(dir, wrong ? 'wrong-cert.pem' : 'collector-cert.pem'), key: path.join(dir, wrong ? 'wrong-key.pem' : 'collector-key.pem') },
        trust_proxy: false,
        enrollment_tokens: [TOKEN],
        targets_file: null,
        limits: { ...structuredClone(DEFAULT_LIMITS), rate_per_probe: { per_minute: 6000, burst: 1000 } },
        influx: null,
        ip_db: null,
        events: structuredClone(DEFAULT_EVENTS),
      };
      const collector = await createCollector(config, {
        clock: systemClock,
        log: false,
        targets: targetList(targets, o.surge ?? null),
        asnLookup: () => ({ asn: 65001, cc: 'KZ', network: 'Lab Telecom' }),
      });
      await collector.app.listen({ host: '127.0.0.1', port: collectorPort });
      lab.collector = collector;
      return collector;
    },
    async stopCollector() {
      const c = lab.collector;
      lab.collector = null;
      await c?.close();
    },
    async archived() {
      const out: Array<{ probe_id: string; measurement: { id: string; target: { id: string }; verdict: { verdict: string } } }> = [];
      const archiveDir = path.join(dataDir, 'archive');
      let files: string[] = [];
      try {
        files = (await readdir(archiveDir)).sort();
      } catch {
        return out;
      }
      for (const f of files) {
        let text: string;
        if (f.endsWith('.jsonl')) text = await readFile(path.join(archiveDir, f), 'utf8');
        else if (f.endsWith('.jsonl.gz')) text = gunzipSync(await readFile(path.join(archiveDir, f))).toString('utf8');
        else continue;
        for (const line of text.split('\n')) if (line.trim() !== '') out.push(JSON.parse(line));
      }
      return out;
    },
    async archivedIds() {
      return (await lab.archived()).map((r) => r.measurement.id);
    },
    async metrics() {
      if (lab.collector === null) throw new Error('the lab collector is not running');
      const res = await lab.collector.app.inject({ method: 'GET', url: '/metrics' });
      return res.body;
    },
    async writeConfig(o = {}) {
      const file = path.join(dir, 'probe.yaml');
      const collector = o.collector === false ? [] : [
        'collector:',
        `  url: https://${COLLECTOR_HOST}`,
        `  pin_spki_sha256: [${JSON.stringify(spkiSha256(pki.leaf.cert))}]`,
        `  enrollment_token: ${TOKEN}`,
      ];
      const text = [
        `state_dir: ${JSON.stringify(stateDir)}`,
        `targets_file: ${JSON.stringify(path.join(dir, 'local-targets.yaml'))}`,
        'measure:',
        `  timeout_ms: ${o.timeoutMs ?? 2000}`,
        '  dns_listen_window_ms: 50',
        `  resolvers: [system, "udp:127.0.0.1:${dns.port}"]`,
        `  extra_ca_files: [${JSON.stringify(path.join(dir, 'lab-root.pem'))}]`,
        '  qtypes: [A]',
        ...collector,
        'schedule:',
        '  interval_minutes: 1',
        '  jitter_fraction: 0',
        '  surge_min_interval_minutes: 1',
        'upload:',
        '  batch_size: 20',
        '  backoff_base_s: 1',
        '  backoff_cap_s: 2',
        o.extra ?? '',
      ].join('\n');
      await writeFile(file, text);
      return file;
    },
    async spawnDaemon(spec = {}) {
      const full: ChildSpec = { ...spec, configFile: spec.configFile ?? path.join(dir, 'probe.yaml'), map, dnsPort: dns.port };
      const specFile = path.join(dir, `child-${Date.now()}-${children.size}.json`);
      await writeFile(specFile, JSON.stringify(full));
      const env = { ...process.env };
      delete env['JOURNAL_STREAM'];
      const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, specFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
      children.add(proc);
      const lines: string[] = [];
      const waiters = new Set<() => void>();
      let buffer = '';
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          lines.push(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
        for (const w of waiters) w();
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
        proc.once('close', (code, signal) => {
          children.delete(proc);
          for (const w of waiters) w();
          resolve({ code, signal, at: Date.now() });
        });
      });
      let ended = false;
      void exited.then(() => (ended = true));
      const taken = () => lines.map((l) => /\btaken ([0-9A-HJKMNP-TV-Z]{26}) /.exec(l)?.[1]).filter((id): id is string => id !== undefined);
      const waitFor = (check: () => boolean, what: string, timeoutMs: number) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            waiters.delete(test);
            reject(new Error(`daemon: timed out after ${timeoutMs} ms waiting for ${what}; log:\n${lines.slice(-40).join('\n')}`));
          }, timeoutMs);
          const test = () => {
            if (check()) {
              clearTimeout(timer);
              waiters.delete(test);
              resolve();
            } else if (ended) {
              clearTimeout(timer);
              waiters.delete(test);
              reject(new Error(`daemon: exited while waiting for ${what}; log:\n${lines.slice(-40).join('\n')}`));
            }
          };
          waiters.add(test);
          test();
        });
      return {
        proc,
        lines,
        taken,
        exited,
        async waitForLine(test, timeoutMs) {
          let found = '';
          await waitFor(() => {
            const hit = lines.find(test);
            if (hit !== undefined) found = hit;
            return hit !== undefined;
          }, 'a log line', timeoutMs);
          return found;
        },
        waitForTaken: (count, timeoutMs) => waitFor(() => taken().length >= count, `${count} measurements taken`, timeoutMs),
      };
    },
    async close() {
      for (const child of children) child.kill('SIGKILL');
      await Promise.all([...children].map((c) => new Promise((resolve) => c.once('close', resolve))));
      await lab.stopCollector();
      await Promise.all([dns.close(), site.close(), silent.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return lab;
}

/** Waits until `check` holds, polling every 100 ms (for state held outside the test process, e.g. the collector's archive). */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The value of one Prometheus sample, e.g. metric('ashyq_ingest_measurements_total', '{status="duplicate"}'); null when absent. */
export function metricValue(text: string, name: string, labels = ''): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? null : Number(line.slice(name.length + labels.length + 1));
}
