// `ashyq-collector events`: the blocking events in the data directory, as a table or JSON lines (a running server may hold the directory).
import path from 'node:path';
import { kazakhstanMinute, utcMinute } from '../../common/local-time.js';
import { eventView, parseEventQuery } from '../api/routes/events.js';
import type { CollectorConfig } from '../config.js';
import type { BlockingEvent } from '../events/types.js';
import { EventStore } from '../storage/event-store.js';
import { InputError, type Output } from './output.js';

export interface EventsArgs {
  since?: string;
  until?: string;
  target?: string;
  asn?: string;
  cc?: string;
  method?: string;
  open?: boolean;
  json?: boolean;
}

function networks(e: BlockingEvent): string {
  if (e.level === 'country' || e.asns.length === 0) return e.cc ?? 'all networks';
  return e.asns.map((a) => `AS${a}`).join(',');
}

/** One line of the table: when (UTC and Kazakhstan time), what, where, how sure. */
export function describeEvent(e: BlockingEvent): string {
  const end = e.end === null ? 'open' : utcMinute(e.end).slice(e.end - e.start < 86_400_000 ? 11 : 0);
  const targets = e.targets.join(',') === '*' ? 'all targets' : e.targets.join(',');
  return (
    `${utcMinute(e.start)}–${end} UTC (${kazakhstanMinute(e.start)})  ${e.kind} by ${e.method}${e.scope === 'partial' ? ' (partial)' : ''}  ` +
    `${targets} on ${networks(e)}  ${e.probe_count} probes, ${e.measurement_count} measurements, confidence ${e.confidence.toFixed(2)}` +
    `${e.incident !== null ? `  ${e.incident}` : ''}  ${e.id}`
  );
}

export function runEvents(config: CollectorConfig, args: EventsArgs, stdout: Output): number {
  const parsed = parseEventQuery({
    from: args.since,
    to: args.until,
    target: args.target,
    asn: args.asn,
    cc: args.cc,
    method: args.method,
    ...(args.open ? { open: 'true' } : {}),
  });
  if (!parsed.ok) throw new InputError(parsed.message.replace(/^from:/, '--since:').replace(/^to:/, '--until:').replace(/^(\w+):/, '--$1:'));
  const store = EventStore.open(path.join(config.data_dir, 'events.sqlite'));
  try {
    const events = store.events(parsed.value);
    if (args.json) {
      for (const e of events) stdout.write(`${JSON.stringify(eventView(e))}\n`);
      return 0;
    }
    if (events.length === 0) {
      stdout.write('no blocking events\n');
      return 0;
    }
    for (const e of events) stdout.write(`${describeEvent(e)}\n`);
    const open = events.filter((e) => e.end === null).length;
    stdout.write(`${events.length} events (${open} open)\n`);
    return 0;
  } finally {
    store.close();
  }
}
