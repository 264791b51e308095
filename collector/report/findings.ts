// Phase 2 of the report: findings computed from the month's data (coverage, per-service blocking, per-network availability, events, daily shares), with no wording.
import { isBlocked, type Verdict } from '../../contract/verdict.js';
import type { BlockingEvent, ChronicBlock, Incident } from '../events/types.js';
import { DAY_MS, HOUR_MS, type ReportData } from './data.js';
import type { DailyPercentiles, IssuerRow } from './index-data.js';
import type { ReportPeriod } from './period.js';

/** Verdicts that say nothing about reachability: left out of availability's denominator. */
const UNUSABLE: ReadonlySet<Verdict> = new Set<Verdict>(['offline', 'inconclusive']);

export interface Interval {
  start: number;
  end: number;
}

export interface Gap extends Interval {
  hours: number;
}

export interface Coverage {
  /** Distinct probes (from the measurement index); null when the store has none. */
  probes: number | null;
  networks: number;
  measurements: number;
  daysMeasured: number;
  daysInPeriod: number;
  hoursMeasured: number;
  hoursInPeriod: number;
  /** Runs of whole hours without any measurement, inside the period up to the report's time. */
  gaps: Gap[];
}

export interface NetworkAvailability {
  target: string;
  asn: number | null;
  measurements: number;
  /** Measurements that could tell (not offline, not inconclusive). */
  usable: number;
  ok: number;
  blocked: number;
  /** ok / usable, 0..1 (null without usable measurements). */
  availability: number | null;
  blockedShare: number | null;
  hoursBlocked: number;
  /** Blocked verdicts seen and their counts. */
  verdicts: Partial<Record<Verdict, number>>;
  probes: number | null;
}

export interface ServiceFinding {
  target: string;
  measurements: number;
  networksMeasured: number;
  /** Networks where an event blocked the service. */
  networksBlocked: Array<number | null>;
  /** Wall-clock hours with the service blocked on at least one network (events, clipped to the month). */
  hoursBlocked: number;
  hoursThrottled: number;
  /** Blocking methods of its events, and blocked verdicts seen in measurements. */
  methods: string[];
  verdicts: Verdict[];
  partial: boolean;
  events: number;
  incidents: number;
  longest: BlockingEvent | null;
  blockedShare: number | null;
  networks: NetworkAvailability[];
}

export interface DailyShare {
  day: number;
  target: string;
  measurements: number;
  blocked: number;
  throttled: number;
  share: number | null;
  throttledShare: number | null;
}

export interface InterceptionPoint {
  hour: number;
  asn: number | null;
  count: number;
}

export interface Findings {
  period: ReportPeriod;
  generatedAt: number;
  /** End of the period as reported: the month's end, or the report's time during the month. */
  until: number;
  coverage: Coverage;
  services: ServiceFinding[];
  events: BlockingEvent[];
  incidents: Incident[];
  chronic: ChronicBlock[];
  daily: DailyShare[];
  interception: InterceptionPoint[];
  percentiles: DailyPercentiles[];
  issuers: IssuerRow[];
  shutdowns: BlockingEvent[];
}

/** Total length of the union of intervals (ms). */
export function unionLength(intervals: readonly Interval[]): number {
  const sorted = [...intervals].filter((i) => i.end > i.start).sort((a, b) => a.start - b.start);
  let total = 0;
  let cur: Interval | null = null;
  for (const i of sorted) {
    if (cur === null || i.start > cur.end) {
      if (cur !== null) total += cur.end - cur.start;
      cur = { ...i };
    } else cur.end = Math.max(cur.end, i.end);
  }
  if (cur !== null) total += cur.end - cur.start;
  return total;
}

/** An event's interval inside [from, until] (an open event runs to `until`). */
export function clip(e: BlockingEvent, from: number, until: number): Interval {
  return { start: Math.max(e.start, from), end: Math.min(e.end ?? until, until) };
}

const hoursOf = (ms: number): number => Math.round((ms / HOUR_MS) * 10) / 10;

function appliesTo(e: BlockingEvent, target: string): boolean {
  return e.targets.includes(target);
}

function networksOf(e: BlockingEvent): Array<number | null> {
  return e.asns.length > 0 ? e.asns : [null];
}

export function computeFindings(data: ReportData): Findings {
  const { period } = data;
  const until = Math.min(period.to, Math.max(period.from, data.generatedAt));
  const events = data.events;
  const blockingEvents = events.filter((e) => e.kind === 'blocking' || e.kind === 'partial');

  // Coverage.
  const hoursSeen = new Set<number>();
  const networks = new Set<number | null>();
  let measurements = 0;
  for (const r of data.hours) {
    hoursSeen.add(r.hour);
    networks.add(r.asn);
    measurements += r.count;
  }
  const daysSeen = new Set([...hoursSeen].map((h) => Math.floor(h / DAY_MS)));
  const gaps: Gap[] = [];
  let gapStart: number | null = null;
  for (let h = period.from; h < until; h += HOUR_MS) {
    if (!hoursSeen.has(h)) gapStart ??= h;
    else if (gapStart !== null) {
      gaps.push({ start: gapStart, end: h, hours: (h - gapStart) / HOUR_MS });
      gapStart = null;
    }
  }
  if (gapStart !== null) {
    const end = Math.ceil(until / HOUR_MS) * HOUR_MS;
    gaps.push({ start: gapStart, end, hours: (end - gapStart) / HOUR_MS });
  }
  const coverage: Coverage = {
    probes: data.index?.probes ?? null,
    networks: networks.size,
    measurements,
    daysMeasured: daysSeen.size,
    daysInPeriod: Math.round((period.to - period.from) / DAY_MS),
    hoursMeasured: hoursSeen.size,
    hoursInPeriod: Math.round((period.to - period.from) / HOUR_MS),
    gaps,
  };

  // Per service and network, from the hourly sums.
  const byNet = new Map<string, NetworkAvailability>();
  const daily = new Map<string, DailyShare>();
  const interception = new Map<string, InterceptionPoint>();
  for (const r of data.hours) {
    const key = `${r.target}|${r.asn ?? ''}`;
    let n = byNet.get(key);
    if (n === undefined) {
      n = { target: r.target, asn: r.asn, measurements: 0, usable: 0, ok: 0, blocked: 0, availability: null, blockedShare: null, hoursBlocked: 0, verdicts: {}, probes: null };
      byNet.set(key, n);
    }
    n.measurements += r.count;
    if (!UNUSABLE.has(r.verdict)) n.usable += r.count;
    if (r.verdict === 'ok') n.ok += r.count;
    n.blocked += r.blocked;
    if (isBlocked(r.verdict)) n.verdicts[r.verdict] = (n.verdicts[r.verdict] ?? 0) + r.count;
    const day = Math.floor(r.hour / DAY_MS) * DAY_MS;
    const dkey = `${r.target}|${day}`;
    let d = daily.get(dkey);
    if (d === undefined) daily.set(dkey, (d = { day, target: r.target, measurements: 0, blocked: 0, throttled: 0, share: null, throttledShare: null }));
    if (!UNUSABLE.has(r.verdict)) d.measurements += r.count;
    d.blocked += r.verdict === 'http.throttled' ? 0 : r.blocked;
    if (r.verdict === 'http.throttled') d.throttled += r.count;
    if (r.verdict === 'tls.interception') {
      const ikey = `${r.hour}|${r.asn ?? ''}`;
      const p = interception.get(ikey);
      if (p === undefined) interception.set(ikey, { hour: r.hour, asn: r.asn, count: r.count });
      else p.count += r.count;
    }
  }
  for (const d of daily.values()) {
    d.share = d.measurements > 0 ? d.blocked / d.measurements : null;
    d.throttledShare = d.measurements > 0 ? d.throttled / d.measurements : null;
  }
  const probesByAsn = data.index?.probesByAsn;
  for (const n of byNet.values()) {
    n.availability = n.usable > 0 ? n.ok / n.usable : null;
    n.blockedShare = n.usable > 0 ? n.blocked / n.usable : null;
    n.hoursBlocked = hoursOf(unionLength(blockingEvents.filter((e) => appliesTo(e, n.target) && networksOf(e).includes(n.asn)).map((e) => clip(e, period.from, until))));
    n.probes = probesByAsn?.[n.asn === null ? '' : String(n.asn)] ?? null;
  }

  const targets = [...new Set([...data.hours.map((r) => r.target), ...events.flatMap((e) => e.targets).filter((t) => t !== '*')])].sort();
  const services: ServiceFinding[] = targets.map((target) => {
    const nets = [...byNet.values()].filter((n) => n.target === target).sort((a, b) => (a.asn ?? -1) - (b.asn ?? -1));
    const own = blockingEvents.filter((e) => appliesTo(e, target));
    const throttled = events.filter((e) => e.kind === 'throttling' && appliesTo(e, target));
    const blockedNets = [...new Set(own.flatMap(networksOf))].sort((a, b) => (a ?? -1) - (b ?? -1));
    const verdicts = [...new Set(nets.flatMap((n) => Object.keys(n.verdicts) as Verdict[]))].sort();
    const usable = nets.reduce((s, n) => s + n.usable, 0);
    const blocked = nets.reduce((s, n) => s + n.blocked, 0);
    const longest = own.reduce<BlockingEvent | null>((best, e) => {
      const len = (i: BlockingEvent) => clip(i, period.from, until).end - clip(i, period.from, until).start;
      return best === null || len(e) > len(best) ? e : best;
    }, null);
    return {
      target,
      measurements: nets.reduce((s, n) => s + n.measurements, 0),
      networksMeasured: nets.length,
      networksBlocked: blockedNets,
      hoursBlocked: hoursOf(unionLength(own.map((e) => clip(e, period.from, until)))),
      hoursThrottled: hoursOf(unionLength(throttled.map((e) => clip(e, period.from, until)))),
      methods: [...new Set([...own, ...throttled].map((e) => e.method))].sort(),
      verdicts,
      partial: own.some((e) => e.scope === 'partial'),
      events: own.length + throttled.length,
      incidents: data.incidents.filter((i) => i.targets.includes(target)).length,
      longest,
      blockedShare: usable > 0 ? blocked / usable : null,
      networks: nets,
    };
  });

  return {
    period,
    generatedAt: data.generatedAt,
    until,
    coverage,
    services,
    events,
    incidents: data.incidents,
    chronic: data.chronic,
    daily: [...daily.values()].sort((a, b) => a.target.localeCompare(b.target) || a.day - b.day),
    interception: [...interception.values()].sort((a, b) => a.hour - b.hour || (a.asn ?? -1) - (b.asn ?? -1)),
    percentiles: data.index?.percentiles ?? [],
    issuers: data.index?.issuers ?? [],
    shutdowns: events.filter((e) => e.kind === 'shutdown'),
  };
}
