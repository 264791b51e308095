// A real VictoriaMetrics (Debian's victoria-metrics) on 127.0.0.1 for tests: InfluxDB v2 write API in, export/query API out.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findBinary, freePort, ServerProcess, type BinaryLookup } from './server-process.js';

export function findVictoriaMetrics(): BinaryLookup {
  return findBinary('victoria-metrics', 'ASHYQ_VICTORIA_METRICS_BIN', 'victoria-metrics');
}

/** One series of `/api/v1/export`: labels (with __name__) and its raw samples. */
export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  /** Epoch milliseconds (VictoriaMetrics keeps millisecond precision). */
  timestamps: number[];
}

/** The series in the body of an `/api/v1/export` answer (one JSON object per line). */
export function parseExport(text: string): ExportedSeries[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ExportedSeries);
}

export class VictoriaMetrics {
  private process: ServerProcess | null = null;

  private constructor(
    private readonly binary: string,
    readonly port: number,
    readonly dataDir: string,
  ) {}

  /** Start a fresh server (empty temp data dir, free port). Throws the lookup's message when the binary is missing. */
  static async start(lookup: BinaryLookup = findVictoriaMetrics()): Promise<VictoriaMetrics> {
    if (lookup.path === null) throw new Error(lookup.message);
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-vm-'));
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const server = new VictoriaMetrics(lookup.path, await freePort(), dataDir);
      try {
        await server.restart();
        return server;
      } catch (err) {
        lastError = err; // the port may have been taken between probing and binding: try another
      }
    }
    await rm(dataDir, { recursive: true, force: true });
    throw lastError;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== null;
  }

  /** Process id of the running server (for CPU accounting in benchmarks). */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /**
   * (Re)start on the same port and data dir. Deduplication at 1 ms is on, as the collector's docs ask
   * of a VictoriaMetrics sink: a batch replayed after an outage then overwrites instead of doubling.
   */
  async restart(): Promise<void> {
    if (this.process !== null) return;
    this.process = await ServerProcess.start({
      name: 'victoria-metrics',
      binary: this.binary,
      args: [
        `-httpListenAddr=127.0.0.1:${this.port}`,
        `-storageDataPath=${this.dataDir}`,
        '-retentionPeriod=100y',
        '-dedup.minScrapeInterval=1ms',
        '-search.latencyOffset=0s',
        '-search.disableCache',
        '-loggerLevel=ERROR',
      ],
      healthUrl: `http://127.0.0.1:${this.port}/health`,
    });
  }

  /** Graceful stop; data stays for `restart()`. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = null;
    await child?.stop();
  }

  /** Stop and delete the data dir. */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  log(): string {
    return this.process?.log() ?? '';
  }

  /** Make recently ingested samples searchable now. */
  async flush(): Promise<void> {
    const response = await fetch(`${this.url}/internal/force_flush`);
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`force_flush: HTTP ${response.status}`);
  }

  /** Raw samples of every series matching the series selector, e.g. `{__name__=~"reachability_.*"}`. */
  async export(match: string): Promise<ExportedSeries[]> {
    await this.flush();
    const response = await fetch(`${this.url}/api/v1/export`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ 'match[]': match, start: '0' }).toString(),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`export ${match}: HTTP ${response.status}: ${text}`);
    return parseExport(text);
  }

  /** Sum of one of the server's own metrics (from /metrics) over the lines whose name and labels start with `prefix`. */
  async selfMetric(prefix: string): Promise<number> {
    const response = await fetch(`${this.url}/metrics`);
    const text = await response.text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(prefix)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  /** A Prometheus instant query; returns the result vector as labels and value. */
  async query(promql: string, timeMs: number): Promise<Array<{ metric: Record<string, string>; value: number }>> {
    await this.flush();
    const params = new URLSearchParams({ query: promql, time: String(timeMs / 1000) });
    const response = await fetch(`${this.url}/api/v1/query?${params.toString()}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (!response.ok || body.status !== 'success' || body.data === undefined) {
      throw new Error(`query ${promql}: HTTP ${response.status}: ${body.error ?? ''}`);
    }
    return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  }
}
