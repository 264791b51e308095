// The daemon's log: one line per event on a stream, with syslog priorities when journald reads it.
import type { Clock } from '../../common/clock.js';

export type LogLevel = 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string) => void;

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

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
