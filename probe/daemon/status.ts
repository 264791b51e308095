// The daemon's status file (state_dir/status.json): written atomically after runs and uploads, read by `ashyq-probe status`.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ProbeNetwork } from '../config/probe-config.js';
import type { SetAside, SpoolStats } from '../spool/spool.js';
import { replaceFile } from '../../common/durable.js';
import type { UploaderStatus } from '../upload/uploader.js';
import type { ScheduleSnapshot } from './schedule.js';
import type { DataUseStatus } from './data-use.js';
import { describeRunLine, type RunLine } from '../classify/line.js';
import type { Revocation } from '../upload/revocation.js';
import { revocationAdvice, revocationEffect } from './revoked-text.js';

export const STATUS_FILE = 'status.json';
export const STATUS_VERSION = 1;

export interface LastRun {
  started_at: string;
  finished_at: string;
  /** Targets measured (the due ones and the carried canaries). */
  targets: number;
  /** Measurements written to the spool. */
  measurements: number;
  verdicts: Record<string, number>;
  /** Why the run produced nothing (aborted, deadline, disk, data budget), null when it completed. */
  error: string | null;
  /** Bytes the run sent and received (absent in status files of older versions). */
  bytes?: number;
  /** What the run showed about the volunteer's own line: packet loss, a captive portal (absent in older status files). */
  line?: RunLine | null;
}

export interface TargetsStatus {
  /** Where the list in use came from. */
  source: 'collector' | 'cache' | 'local';
  count: number;
  /** The collector's ETag of the list in use (collector and cache only). */
  etag: string | null;
  /** When the collector was last asked (successfully or not). */
  checked_at: string | null;
  /** When the list in use was obtained. */
  updated_at: string | null;
  last_error: string | null;
}

export interface LocationStatus extends ProbeNetwork {
  /** config: only what the volunteer stated; collector: the collector's answer (config values override it). */
  source: 'config' | 'collector' | 'none';
  checked_at: string | null;
}

export interface DaemonStatus {
  version: typeof STATUS_VERSION;
  state: 'running' | 'stopping' | 'stopped';
  pid: number;
  probe_id: string;
  software: string;
  started_at: string;
  updated_at: string;
  /** The collector's URL (never the token), or null when the daemon only spools. */
  collector: string | null;
  proxy: boolean;
  schedule: ScheduleSnapshot;
  runs: number;
  /** Measurements written to the spool since start. */
  taken: number;
  last_run: LastRun | null;
  /** This month's data use (absent in status files of older versions). */
  data?: DataUseStatus;
  spool: SpoolStats & { set_aside_at_start: SetAside[] };
  upload: UploaderStatus | null;
  targets: TargetsStatus;
  location: LocationStatus;
  last_error: { at: string; message: string } | null;
  /** The collector revoked this probe: when the daemon saw it and the collector's reason (absent in older status files). */
  revoked?: Revocation | null;
}

/** Replace the status file atomically (a reader sees the old or the new one, never half). */
export async function writeStatus(stateDir: string, status: DaemonStatus): Promise<void> {
  await replaceFile(stateDir, STATUS_FILE, Buffer.from(`${JSON.stringify(status, null, 2)}\n`, 'utf8'));
}

/** The status file, or null when there is none (the daemon never ran with this state directory). */
export async function readStatus(stateDir: string): Promise<DaemonStatus | null> {
  let text: string;
  try {
    text = await readFile(path.join(stateDir, STATUS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const value = JSON.parse(text) as DaemonStatus;
  if (value.version !== STATUS_VERSION) throw new Error(`${path.join(stateDir, STATUS_FILE)}: unsupported status version ${String(value.version)}`);
  return value;
}

/** Whether a process with this pid exists (one of another user counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 0) return `in ${span(-ms)}`;
  return `${span(ms)} ago`;
}

function span(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

function when(iso: string | null, now: number): string {
  if (iso === null) return '—';
  return `${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (${ago(now - Date.parse(iso))})`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function verdicts(v: Record<string, number>): string {
  const parts = Object.entries(v)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${n} ${k}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/**
 * The status for people: one labelled line per topic. `alive`: whether the daemon's process still
 * exists; `stateDir`: where its identity is (named when the collector revoked the probe).
 */
export function formatStatus(s: DaemonStatus, now: number, alive: boolean, stateDir = 'the state directory'): string {
  const lines: string[] = [];
  const row = (label: string, text: string) => lines.push(`${label.padEnd(13)}${text}`);
  let head: string;
  if (s.state === 'stopped') head = `stopped (${when(s.updated_at, now)})`;
  else if (!alive) head = `NOT RUNNING: pid ${s.pid} is gone without a clean stop (killed, crashed or a power cut); last status ${when(s.updated_at, now)}`;
  else head = `${s.state} (pid ${s.pid}, up ${span(now - Date.parse(s.started_at))}; status written ${ago(now - Date.parse(s.updated_at))})`;
  const revoked = s.revoked ?? null;
  if (revoked !== null && s.state === 'running' && alive) head += '; IDLE: the collector revoked this probe';
  row('daemon', head);
  row('probe id', `${s.probe_id}  (ashyq-probe ${s.software})`);
  row('collector', s.collector === null ? 'none: measurements stay in the spool' : `${s.collector}${s.proxy ? ' through a proxy' : ''}`);
  if (revoked !== null) {
    row('revoked', `REVOKED by the collector, seen ${when(revoked.seen_at, now)}: ${revoked.reason}`);
    row('', `${revocationEffect(s.spool.count, s.state !== 'stopped' && alive)}.`);
    row('', revocationAdvice(stateDir));
  }
  const sc = s.schedule;
  const next =
    s.state === 'stopped' ? '—' : sc.running ? 'a run is in flight' : revoked !== null ? 'none (measuring stopped: the collector revoked this probe)' : when(sc.next_run_at, now);
  row('schedule', `every ${sc.interval_minutes} min ±${Math.round(sc.jitter_fraction * 100)} %, ${sc.targets} targets; next run ${next}`);
  if (sc.surge !== null && s.state !== 'stopped') {
    row('surge', `${sc.surge.targets.join(', ')} every ${sc.surge.interval_minutes} min until ${when(sc.surge.until, now)} (asked by the collector)`);
  }
  const r = s.last_run;
  if (r === null) row('last run', 'none yet');
  else {
    const secs = ((Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000).toFixed(1);
    const what = r.error !== null ? `FAILED: ${r.error}` : `${r.measurements} measurements in ${secs} s: ${verdicts(r.verdicts)}`;
    row('last run', `${when(r.started_at, now)}; ${what}`);
    const line = describeRunLine(r.line ?? null);
    if (line !== null) row('line', line);
  }
  row('measured', `${s.taken} measurements in ${s.runs} runs since start`);
  if (s.data !== undefined) {
    const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
    const lastBytes = r?.bytes !== undefined && r.error === null ? `; last run ${mb(r.bytes)}` : '';
    row('data', `${mb(s.data.bytes)} in ${s.data.month}${s.data.budget_bytes !== null ? ` of a ${mb(s.data.budget_bytes)} budget` : ''}${lastBytes}`);
  }
  const sp = s.spool;
  const dropped = sp.dropped > 0 ? `; ${sp.dropped} DROPPED by the disk cap (oldest first, ${sp.firstDroppedAt} … ${sp.lastDroppedAt})` : '; none dropped';
  row('spool', `${sp.count} measurements waiting, ${bytes(sp.bytes)} of ${bytes(sp.capBytes)}${dropped}`);
  if (sp.setAside > 0) row('', `${sp.setAside} damaged file(s) set aside in the spool's corrupt/ directory`);
  for (const a of sp.set_aside_at_start) row('', `set aside at start: ${a.file} (${bytes(a.bytes)}): ${a.reason}`);
  const u = s.upload;
  if (u === null) row('upload', 'off (no collector configured)');
  else {
    row('last upload', `${when(u.lastUploadAt, now)}; ${u.uploaded} uploaded, ${u.rejected} rejected since start`);
    if (revoked !== null || (u.revokedAt ?? null) !== null) row('', 'stopped: the collector revoked this probe (see revoked above)');
    else if (u.consecutiveFailures > 0) {
      row('', `${u.consecutiveFailures} failure(s) in a row; next attempt ${when(u.nextAttemptAt, now)}: ${u.lastError ?? ''}`);
    }
  }
  const t = s.targets;
  const origin = t.source === 'collector' ? 'from the collector' : t.source === 'cache' ? 'from the cached collector list' : 'from the local target file';
  row('targets', `${t.count} ${origin}; collector asked ${when(t.checked_at, now)}${t.last_error !== null ? `; last problem: ${t.last_error}` : ''}`);
  const l = s.location;
  const net = [l.asn !== null ? `AS${l.asn}` : null, l.cc, l.network].filter((x) => x !== null).join(' ');
  row('network', `${net === '' ? 'unknown' : net} (${l.source === 'collector' ? 'as the collector sees it; config values take precedence' : l.source === 'config' ? 'as stated in the config' : 'not stated'})`);
  row('last error', s.last_error === null ? '—' : `${when(s.last_error.at, now)}: ${s.last_error.message}`);
  return `${lines.join('\n')}\n`;
}
