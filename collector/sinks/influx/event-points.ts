// Blocking events as InfluxDB `blocking_event` points (Grafana annotations), written from the revision outbox: starts, ends, and the points a revision replaced.
import type { SendOutcome } from '../../events/outbox.js';
import type { BlockingEvent, EventStatus, Revision } from '../../events/types.js';
import { eventLine, type BlockingEventPoint } from './line.js';
import type { LineWriter } from './writer.js';

export interface EventPointsLog {
  error(message: string): void;
}

/** The fields of an event that decide which points it shows. */
interface Standing {
  status: EventStatus;
  start: number;
  end: number | null;
  targets: readonly string[];
  asns: readonly number[];
  cc: string | null;
}

/** One point's identity: its tags, its edge and its time. */
interface PointKey {
  target: string;
  asn: number | null;
  cc: string | null;
  edge: 'start' | 'end';
  at: number;
}

/** The shutdown's target "*" is written as "all". */
function targetTag(target: string): string {
  return target === '*' ? 'all' : target;
}

/** The points an event shows: per target and ASN (none for a country-level event) a start, and an end once closed; none when retracted. */
function pointsOf(e: Standing, countryLevel: boolean): PointKey[] {
  if (e.status === 'retracted') return [];
  const asns: Array<number | null> = countryLevel || e.asns.length === 0 ? [null] : [...e.asns];
  const out: PointKey[] = [];
  for (const target of e.targets) {
    for (const asn of asns) {
      out.push({ target: targetTag(target), asn, cc: e.cc, edge: 'start', at: e.start });
      if (e.end !== null) out.push({ target: targetTag(target), asn, cc: e.cc, edge: 'end', at: e.end });
    }
  }
  return out;
}

function identity(p: PointKey): string {
  return JSON.stringify([p.target, p.asn, p.cc, p.edge, p.at]);
}

/** Per point identity, the last of `points` (in their order): one batch writes each point once, as its last revision left it. */
function lastOfEach(points: ReadonlyArray<{ identity: string; line: string }>): string[] {
  const last = new Map<string, string>();
  for (const p of points) {
    last.delete(p.identity);
    last.set(p.identity, p.line);
  }
  return [...last.values()];
}

/** The event as it stood before `r` (null for an opened event): the current form with the changed fields set back. */
function before(r: Revision): Standing | null {
  if (r.type === 'opened') return null;
  const e = r.event;
  const c = r.changes;
  const was = <T>(field: keyof typeof c, now: T): T => (c[field] === undefined ? now : (c[field]!.from as T));
  const start = was('start', e.start);
  if (typeof start !== 'number') return null;
  return {
    status: was('status', e.status),
    start,
    end: was('end', e.end),
    targets: was('targets', e.targets) ?? [],
    asns: was('asns', e.asns) ?? [],
    cc: was('cc', e.cc),
  };
}

/** The annotation text: e.g. "blocking of youtube on AS9198 by tls, 3 probes"; "end of …" for the end. */
export function annotationText(e: BlockingEvent, edge: 'start' | 'end'): string {
  const targets = e.targets.includes('*') ? 'all targets' : e.targets.join(', ');
  const networks = e.level === 'country' || e.asns.length === 0 ? (e.cc ?? 'unknown network') : e.asns.map((a) => `AS${a}`).join(', ');
  const text = `${e.kind} of ${targets} on ${networks} by ${e.method}, ${e.probe_count} probe${e.probe_count === 1 ? '' : 's'}`;
  return edge === 'end' ? `end of ${text}` : text;
}

/**
 * The lines of one revision: the points the event shows after it (written again: the same point
 * overwrites itself), and, as "revised", the points it showed before and no longer shows (a start
 * or end moved by late data, a target or network gone, the event retracted), each at the old
 * tags and time so that it overwrites the old point.
 */
export function revisionLines(r: Revision): string[] {
  return revisionPoints(r).map((p) => p.line);
}

/** {@link revisionLines} with each line's point identity (event, tags, edge, time). */
export function revisionPoints(r: Revision): Array<{ identity: string; line: string }> {
  const e = r.event;
  const countryLevel = e.level === 'country';
  const now = pointsOf(e, countryLevel);
  const kept = new Set(now.map(identity));
  const was = before(r);
  const gone = was === null ? [] : pointsOf(was, countryLevel).filter((p) => !kept.has(identity(p)));
  const point = (p: PointKey, state: BlockingEventPoint['state']): { identity: string; line: string } => ({
    identity: `${e.id} ${identity(p)}`,
    line: eventLine({
      id: e.id,
      target: p.target,
      asn: p.asn,
      cc: p.cc,
      method: e.method,
      state,
      edge: p.edge,
      at: new Date(p.at).toISOString(),
      probes: e.probe_count,
      confidence: e.confidence,
      text: annotationText(e, p.edge),
      kind: e.kind,
      scope: e.scope,
      incident: e.incident,
    }),
  });
  return [...gone.map((p) => point(p, 'revised')), ...now.map((p) => point(p, p.edge))];
}

/** Writes the points of revisions through a line writer; for the outbox. */
export class EventPoints {
  constructor(private readonly o: { writer: LineWriter; log: EventPointsLog }) {}

  readonly send = async (revisions: readonly Revision[]): Promise<SendOutcome> => {
    const points: Array<{ identity: string; line: string }> = [];
    for (const r of revisions) {
      try {
        points.push(...revisionPoints(r));
      } catch (err) {
        // A bug or a corrupt revision: its points cannot be written; the others are.
        this.o.log.error(`revision ${r.seq} (event ${r.event_id}) has no points, skipped: ${(err as Error).message}`);
      }
    }
    const outcome = await this.o.writer.write(lastOfEach(points));
    if (outcome.ok) return outcome;
    if (outcome.kind === 'rejected') return { ok: false, retry: false, message: outcome.message };
    return { ok: false, retry: true, message: outcome.message, retryAfterMs: outcome.retryAfterMs };
  };

  close(): void {
    this.o.writer.close?.();
  }
}
