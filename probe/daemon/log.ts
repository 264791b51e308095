// The daemon's log: one line per event on a stream — plain (with syslog priorities under journald), readable on a terminal, or JSON for tooling.
import type { Clock } from '../../common/clock.js';
import type { ProgressEvent } from '../engine/options.js';

export type LogLevel = 'info' | 'warn' | 'error';
/** What a line is about, for the formats that treat some apart (`taken`: one measurement in the spool). */
export type LogKind = 'taken' | 'run' | 'upload';
export type Log = ((level: LogLevel, msg: string, kind?: LogKind) => void) & {
  /** A run's progress, target by target (a live line on a terminal; the other formats leave it out). */
  progress?: (event: ProgressEvent) => void;
};

export type LogFormat = 'lines' | 'terminal' | 'json';

/** syslog priorities journald understands as a line prefix (SyslogLevelPrefix). */
const PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6 };

export interface StreamLogOptions {
  clock: Clock;
  /** journald adds its own timestamps and reads `<N>` priorities; set when JOURNAL_STREAM is in the environment. */
  journald?: boolean;
}

/** Lines such as `2024-05-09T07:00:00.000Z warn upload failed …`, or `<4>upload failed …` for journald. */
export function streamLog(stream: { write(text: string): unknown }, options: StreamLogOptions): Log {
  return (level, msg) => {
    const text = msg.replace(/\r?\n/g, ' | ');
    if (options.journald) stream.write(`<${PRIORITY[level]}>${text}\n`);
    else stream.write(`${new Date(options.clock.now()).toISOString()} ${level.padEnd(5)} ${text}\n`);
  };
}

/** One JSON object per line: time, level, kind (when it has one) and msg. */
export function jsonLog(stream: { write(text: string): unknown }, clock: Clock): Log {
  return (level, msg, kind) => {
    stream.write(`${JSON.stringify({ time: new Date(clock.now()).toISOString(), level, ...(kind !== undefined ? { kind } : {}), msg })}\n`);
  };
}

/**
 * For a person at a terminal: local clock time and the message, a run as one line (not a line per
 * measurement), warnings and errors marked, and a progress line while a run goes (live on a terminal,
 * at each quarter of the run through a pipe).
 */
export function terminalLog(stream: { write(text: string): unknown; isTTY?: boolean }, clock: Clock): Log {
  const tty = stream.isTTY === true;
  let live = false;
  const clear = () => {
    if (live) stream.write('\r\x1b[2K');
    live = false;
  };
  const log: Log = (level, msg, kind) => {
    if (kind === 'taken') return;
    clear();
    const d = new Date(clock.now());
    const time = [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
    const mark = level === 'info' ? '' : `${level === 'warn' ? 'WARNING' : 'ERROR'}: `;
    stream.write(`${time}  ${mark}${msg.replace(/\r?\n/g, '\n          ')}\n`);
  };
  log.progress = (event) => {
    if (event.type !== 'target-done') return;
    if (event.done === event.total) return clear();
    if (tty) {
      stream.write(`\r\x1b[2K          measuring: ${event.done}/${event.total} done (${event.target.id})`);
      live = true;
      return;
    }
    // Through a pipe (npm start): a line at each quarter of the run, not one per target.
    const quarter = Math.floor((event.done * 4) / event.total);
    if (quarter > Math.floor(((event.done - 1) * 4) / event.total)) stream.write(`          measuring: ${event.done}/${event.total} done\n`);
  };
  return log;
}

/**
 * The format for where the log goes: JSON when asked (--json, or ASHYQ_LOG=json), ASHYQ_LOG=text or
 * lines when set, else journald's lines under journald, readable on a terminal, plain lines otherwise.
 */
export function logFor(stream: { write(text: string): unknown; isTTY?: boolean }, clock: Clock, options: { json: boolean; env: Record<string, string | undefined> }): Log {
  const asked = options.env['ASHYQ_LOG'];
  if (options.json || asked === 'json') return jsonLog(stream, clock);
  if (asked === 'text') return terminalLog(stream, clock);
  if (asked === 'lines') return streamLog(stream, { clock });
  if (options.env['JOURNAL_STREAM'] !== undefined) return streamLog(stream, { clock, journald: true });
  return stream.isTTY === true ? terminalLog(stream, clock) : streamLog(stream, { clock });
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
