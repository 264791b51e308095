// Event surges: while a blocking event is open, probes on its network are asked to measure its targets more often.
import type { Clock } from '../../common/clock.js';
import type { SurgeAnswer } from '../../contract/wire.js';
import type { BlockingEvent } from '../events/types.js';
import { surgeableIds, type SurgeLog } from './surge.js';
import type { TargetList } from './list.js';

/** The network a request comes from, as looked up (the address itself is not kept). */
export interface RequesterNetwork {
  asn: number | null;
  cc: string | null;
}

/**
 * A country-level event asks every probe of its country only when it spans this many networks: the
 * country series mirrors each ASN's, so a block on one network alone also makes a country event,
 * and that one must not reach the probes of the other networks.
 */
export const COUNTRY_SURGE_MIN_ASNS = 2;

/**
 * Whether an open event asks for a surge at all. A shutdown does not (a shut-down network cannot
 * upload anyway), nor an event only one probe has seen: one probe (a broken line, or a fake a
 * censor enrolled) must not change what every volunteer on the network does, since a surge sends
 * more traffic from their lines to blocked targets.
 */
export function asksForSurge(e: BlockingEvent): boolean {
  if (e.status !== 'open' || e.end !== null) return false;
  if (e.kind !== 'blocking' && e.kind !== 'partial' && e.kind !== 'throttling') return false;
  if (e.single_probe && e.probe_count < 2) return false;
  return e.level === 'asn' || e.asns.length >= COUNTRY_SURGE_MIN_ASNS;
}

/** Whether a surge-asking event concerns a requester on `network`: its ASN, or its country for a country-level event. */
export function concerns(e: BlockingEvent, network: RequesterNetwork): boolean {
  if (network.asn !== null && e.asns.includes(network.asn)) return true;
  return e.level === 'country' && network.cc !== null && e.cc === network.cc;
}

/**
 * The end served with an event surge at `now`: the end of the next slot of `slotMs` (the probes'
 * interval), so one to two intervals ahead. It stays the same within a slot (the ETag too, so a
 * conditional request gets 304), is renewed while the event stays open, and lets the surge end
 * within two intervals of the event's close even when the probe does not ask again.
 */
export function eventSurgeUntil(now: number, slotMs: number): number {
  return (Math.floor(now / slotMs) + 2) * slotMs;
}

/** One answer for two surges (the wire carries one): the targets of both, the shorter interval, the later end. */
export function combineSurges(a: SurgeAnswer | null, b: SurgeAnswer | null): SurgeAnswer | null {
  if (a === null) return b;
  if (b === null) return a;
  return {
    targets: [...new Set([...a.targets, ...b.targets])],
    interval_minutes: Math.min(a.interval_minutes, b.interval_minutes),
    until: Date.parse(a.until) >= Date.parse(b.until) ? a.until : b.until,
  };
}

export interface EventSurgesOptions {
  /** Where the open events are read from (the event store). */
  events: { openEvents(): BlockingEvent[] };
  /** The served list: surges name only its targets. */
  base: TargetList;
  clock: Clock;
  /** Minutes between the surge's measurements (events.surge_every_minutes); 0 asks for none. */
  everyMinutes: number;
  /** The probes' measuring interval (events.interval_minutes): the slot of the surge's end. */
  intervalMinutes: number;
  log: SurgeLog;
}

/** The open events asking for a surge, and the surge each requester's network gets from them. Never throws. */
export class EventSurges {
  readonly #o: EventSurgesOptions;
  readonly #surgeable: ReadonlySet<string>;
  /** Ids of the events asking for a surge when last looked at (to log starts and ends once). */
  #asking = new Map<string, BlockingEvent>();

  constructor(options: EventSurgesOptions) {
    this.#o = options;
    this.#surgeable = new Set(surgeableIds(options.base));
  }

  /** The open events asking for a surge now (none when surges are off). */
  active(): BlockingEvent[] {
    if (this.#o.everyMinutes <= 0) return [];
    let open: BlockingEvent[];
    try {
      open = this.#o.events.openEvents();
    } catch (err) {
      this.#o.log.error({ err }, 'event surge: reading the open events failed; asking for no event surge');
      return [];
    }
    const asking = open.filter((e) => asksForSurge(e) && e.targets.some((id) => this.#surgeable.has(id)));
    this.#note(asking);
    return asking;
  }

  /** The event surge for a requester on `network` (null: unknown network, or no event concerns it). */
  surgeFor(network: RequesterNetwork | null): SurgeAnswer | null {
    if (network === null || (network.asn === null && network.cc === null)) return null;
    const targets = new Set<string>();
    for (const e of this.active()) if (concerns(e, network)) for (const id of e.targets) if (this.#surgeable.has(id)) targets.add(id);
    if (targets.size === 0) return null;
    const until = eventSurgeUntil(this.#o.clock.now(), this.#o.intervalMinutes * 60_000);
    return { targets: [...targets].sort(), interval_minutes: this.#o.everyMinutes, until: new Date(until).toISOString() };
  }

  /** The surge of every open event together, whatever its network (what the control vantage measures); null when none asks. */
  anySurge(): SurgeAnswer | null {
    const targets = new Set<string>();
    for (const e of this.active()) for (const id of e.targets) if (this.#surgeable.has(id)) targets.add(id);
    if (targets.size === 0) return null;
    const until = eventSurgeUntil(this.#o.clock.now(), this.#o.intervalMinutes * 60_000);
    return { targets: [...targets].sort(), interval_minutes: this.#o.everyMinutes, until: new Date(until).toISOString() };
  }

  /** Log the events that began or stopped asking since the last look (never who asked). */
  #note(asking: readonly BlockingEvent[]): void {
    const next = new Map(asking.map((e) => [e.id, e]));
    for (const [id, e] of next) {
      if (this.#asking.has(id)) continue;
      const where = e.level === 'asn' ? e.asns.map((a) => `AS${a}`).join(', ') : `${e.cc} (${e.asns.length} networks)`;
      this.#o.log.info(
        { event: id, targets: e.targets, asns: e.asns, cc: e.cc },
        `event surge: asking probes on ${where} to measure ${e.targets.join(', ')} every ${this.#o.everyMinutes} min while event ${id} is open`,
      );
    }
    for (const id of this.#asking.keys()) {
      if (!next.has(id)) this.#o.log.info({ event: id }, `event surge: event ${id} no longer asks for a surge`);
    }
    this.#asking = next;
  }
}
