// The detector's published records: blocking events, incidents, revisions, chronic blocks.
import type { Category, Scope } from './contract.js';
import type { Level } from './buckets.js';
import type { EventMethod } from './observation.js';

export type EventKind = 'blocking' | 'partial' | 'throttling' | 'shutdown';
export type EventStatus = 'open' | 'closed' | 'retracted';

export interface BlockingEvent {
  /** Stable: the series and the start of the event's first revision. */
  id: string;
  /** The series: "target/network/method", network = "AS<asn>" or the country code; target "*" for a shutdown. */
  series: string;
  kind: EventKind;
  status: EventStatus;
  /** Epoch ms: earliest blocked measurement of the first hot window. */
  start: number;
  /** Epoch ms: latest blocked measurement of the last hot window; null while open. */
  end: number | null;
  level: Level;
  targets: string[];
  categories: Category[];
  asns: number[];
  cc: string | null;
  method: EventMethod;
  scope: Scope;
  /** Distinct probes that saw the blocking. */
  probe_count: number;
  /** Measurements of the series inside the event, and how many of them were blocked. */
  measurement_count: number;
  blocked_count: number;
  /** 0..1: mean confidence of the blocked measurements times 1 - 2^-probes. */
  confidence: number;
  incident: string | null;
  /** Number of the event's latest revision (1 = opened). */
  revision: number;
  /** Up to `examples` blocked measurement ids, spread over the event. */
  evidence: string[];
  /** Set when the event was confirmed by one probe's persistence alone. */
  single_probe: boolean;
  /** When status is retracted because late data joined it to another event: that event. */
  merged_into?: string;
}

export type RevisionType = 'opened' | 'changed' | 'closed' | 'reopened' | 'retracted';

/** Fields whose change makes a revision (the tallies measurement_count, blocked_count, confidence, evidence ride along). */
export const MATERIAL_FIELDS = [
  'kind',
  'status',
  'start',
  'end',
  'targets',
  'asns',
  'cc',
  'scope',
  'probe_count',
  'incident',
  'merged_into',
] as const;
export type MaterialField = (typeof MATERIAL_FIELDS)[number];

export interface Revision {
  /** 1, 2, 3 ... across all events, in the order they were made. */
  seq: number;
  event_id: string;
  /** The event's own revision number. */
  revision: number;
  type: RevisionType;
  /** Detector clock, epoch ms. */
  at: number;
  /** What changed: old and new values (for `opened`, every material field from null). */
  changes: Partial<Record<MaterialField, { from: unknown; to: unknown }>>;
  /** The event as it stands after this revision. */
  event: BlockingEvent;
}

export interface Incident {
  /** "inc:" + the id of its earliest event. */
  id: string;
  title: string;
  method: EventMethod;
  kinds: EventKind[];
  start: number;
  end: number | null;
  targets: string[];
  categories: Category[];
  asns: number[];
  ccs: string[];
  event_ids: string[];
}

/** A series blocked most of the time (its baseline): reported once, not as events. */
export interface ChronicBlock {
  series: string;
  target: string;
  level: Level;
  asn: number | null;
  cc: string | null;
  method: EventMethod;
  /** Earliest and latest blocked measurement seen (epoch ms). */
  first_seen: number;
  last_seen: number;
  /** The series' median bucket share. */
  baseline: number;
}

export interface EventFilter {
  target?: string;
  asn?: number;
  cc?: string;
  method?: EventMethod;
  kind?: EventKind;
  level?: Level;
  /** Events overlapping [from, to] (epoch ms). */
  from?: number;
  to?: number;
  /** Retracted events are left out unless this is true. */
  include_retracted?: boolean;
}
