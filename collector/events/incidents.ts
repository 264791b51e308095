// Groups related events into incidents: same method, overlapping time, a shared target or network.
import type { Category } from './contract.js';
import type { BlockingEvent, EventKind, Incident } from './types.js';

/** Incidents of the live events; `slack_ms` lets events that touch (within it) overlap. */
export function groupIncidents(events: readonly BlockingEvent[], slack_ms: number): Incident[] {
  const live = events.filter((e) => e.status !== 'retracted').sort((a, b) => a.start - b.start || (a.id < b.id ? -1 : 1));
  const parent = live.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const endOf = (e: BlockingEvent): number => (e.end === null ? Infinity : e.end + slack_ms);
  // Sweep in start order, comparing with the events still running.
  let running: number[] = [];
  for (let i = 0; i < live.length; i++) {
    const e = live[i]!;
    running = running.filter((j) => endOf(live[j]!) >= e.start);
    for (const j of running) if (related(live[j]!, e)) union(i, j);
    running.push(i);
  }
  const groups = new Map<number, BlockingEvent[]>();
  for (let i = 0; i < live.length; i++) {
    const root = find(i);
    let list = groups.get(root);
    if (list === undefined) groups.set(root, (list = []));
    list.push(live[i]!);
  }
  return [...groups.values()].map(toIncident);
}

function related(a: BlockingEvent, b: BlockingEvent): boolean {
  if (a.method !== b.method) return false;
  if (a.level === 'country' || b.level === 'country') return a.cc === b.cc;
  if (a.targets.some((t) => b.targets.includes(t))) return true;
  return a.asns.some((n) => b.asns.includes(n));
}

function toIncident(members: BlockingEvent[]): Incident {
  const first = members[0]!;
  const open = members.some((e) => e.end === null);
  const targets = uniq(members.flatMap((e) => e.targets)).filter((t) => t !== '*');
  const categories = uniq(members.flatMap((e) => e.categories)) as Category[];
  const asns = uniq(members.flatMap((e) => e.asns)).sort((a, b) => a - b);
  const ccs = uniq(members.flatMap((e) => (e.cc === null ? [] : [e.cc])));
  const kinds = uniq(members.map((e) => e.kind)) as EventKind[];
  const incident: Incident = {
    id: `inc:${first.id}`,
    title: '',
    method: first.method,
    kinds,
    start: Math.min(...members.map((e) => e.start)),
    end: open ? null : Math.max(...members.map((e) => e.end!)),
    targets,
    categories,
    asns,
    ccs,
    event_ids: members.map((e) => e.id).sort(),
  };
  incident.title = titleOf(incident);
  return incident;
}

/** "2024-05-09: social, video cut by tls on 4 networks". */
export function titleOf(incident: Incident): string {
  const day = new Date(incident.start).toISOString().slice(0, 10);
  const networks = `${incident.asns.length} network${incident.asns.length === 1 ? '' : 's'}`;
  if (incident.method === 'shutdown') return `${day}: shutdown on ${networks}`;
  const what = incident.categories.length > 0 ? incident.categories.join(', ') : incident.targets.join(', ');
  const verb = incident.method === 'throttling' ? 'throttled' : incident.kinds.every((k) => k === 'partial') ? 'partly cut' : 'cut';
  const how = incident.method === 'throttling' ? '' : ` by ${incident.method}`;
  return `${day}: ${what} ${verb}${how} on ${networks}`;
}

function uniq<T extends string | number>(values: T[]): T[] {
  return [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
