// A real InfluxDB 1.x (Debian's influxdb, influxd) on 127.0.0.1 for tests: v1 /write in, InfluxQL /query out.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findBinary, freePort, ServerProcess, type BinaryLookup } from './server-process.js';

export function findInfluxd(): BinaryLookup {
  return findBinary('influxd', 'ASHYQ_INFLUXD_BIN', 'influxdb');
}

/** One series of an InfluxQL answer. */
export interface InfluxQLSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** Everything in the config is on loopback and inside the temp dir; no other listener is enabled. */
function config(dir: string, httpPort: number, rpcPort: number): string {
  const q = (value: string) => JSON.stringify(value);
  return [
    'reporting-disabled = true',
    `bind-address = ${q(`127.0.0.1:${rpcPort}`)}`,
    '[meta]',
    `  dir = ${q(path.join(dir, 'meta'))}`,
    '[data]',
    `  dir = ${q(path.join(dir, 'data'))}`,
    `  wal-dir = ${q(path.join(dir, 'wal'))}`,
    '  query-log-enabled = false',
    '[monitor]',
    '  store-enabled = false',
    '[http]',
    `  bind-address = ${q(`127.0.0.1:${httpPort}`)}`,
    '  log-enabled = false',
    '[continuous_queries]',
    '  enabled = false',
    '',
  ].join('\n');
}

export class InfluxDB1 {
  private process: ServerProcess | null = null;

  private constructor(
    private readonly binary: string,
    readonly port: number,
    private readonly rpcPort: number,
    readonly dir: string,
  ) {}

  /** Start a fresh server (temp dir, free ports). Throws the lookup's message when the binary is missing. */
  static async start(lookup: BinaryLookup = findInfluxd()): Promise<InfluxDB1> {
    if (lookup.path === null) throw new Error(lookup.message);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-influxdb-'));
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new InfluxDB1(lookup.path, await freePort(), await freePort(), dir);
      try {
        await server.restart();
        return server;
      } catch (err) {
        lastError = err; // a port taken between probing and binding: try others
      }
    }
    await rm(dir, { recursive: true, force: true });
    throw lastError;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** (Re)start on the same ports and data. */
  async restart(): Promise<void> {
    if (this.process !== null) return;
    const file = path.join(this.dir, 'influxdb.conf');
    await writeFile(file, config(this.dir, this.port, this.rpcPort));
    this.process = await ServerProcess.start({
      name: 'influxd',
      binary: this.binary,
      args: ['run', '-config', file],
      healthUrl: `http://127.0.0.1:${this.port}/ping`,
    });
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = null;
    await child?.stop();
  }

  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  log(): string {
    return this.process?.log() ?? '';
  }

  async createDatabase(name: string): Promise<void> {
    await this.query(null, `CREATE DATABASE "${name.replace(/["\\]/g, (c) => `\\${c}`)}"`, 'POST');
  }

  /** Run InfluxQL; returns the first statement's series (times as epoch nanoseconds). Throws on an error answer. */
  async query(db: string | null, influxql: string, method: 'GET' | 'POST' = 'GET'): Promise<InfluxQLSeries[]> {
    const params = new URLSearchParams({ q: influxql, epoch: 'ns' });
    if (db !== null) params.set('db', db);
    const response = await fetch(
      method === 'GET' ? `${this.url}/query?${params.toString()}` : `${this.url}/query`,
      method === 'GET'
        ? {}
        : { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: params.toString() },
    );
    const text = await response.text();
    if (!response.ok) throw new Error(`InfluxQL ${influxql}: HTTP ${response.status}: ${text}`);
    // Nanosecond times exceed 2^53: keep them exact by quoting every long integer before parsing.
    const body = JSON.parse(text.replace(/([\[,])(-?\d{16,})(?=[,\]])/g, '$1"$2"')) as {
      results?: Array<{ error?: string; series?: InfluxQLSeries[] }>;
      error?: string;
    };
    const first = body.results?.[0];
    if (body.error !== undefined || first?.error !== undefined) {
      throw new Error(`InfluxQL ${influxql}: ${body.error ?? first?.error}`);
    }
    return first?.series ?? [];
  }
}
