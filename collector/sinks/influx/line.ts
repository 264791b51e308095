// InfluxDB line protocol for the time series of DESIGN.md: `reachability` points per measurement, `blocking_event` annotations.
import { InvalidArgumentError } from '../../../common/errors.js';
import type { Measurement } from '../../../contract/measurement.js';
import { isBlocked, type Verdict } from '../../../contract/verdict.js';
import { verdictOf, type ArchivedRecord } from '../../storage/archive.js';

export const REACHABILITY = 'reachability';
export const BLOCKING_EVENT = 'blocking_event';

const LINE_BREAKS = /\r\n|\r|\n/g;
const NEEDS_TAG_ESCAPE = /[,= \\\r\n]/;
const NEEDS_STRING_ESCAPE = /["\\\r\n]/;

/**
 * A tag key or value. Line protocol escapes comma, equals sign and space with a backslash. Line
 * breaks cannot be escaped at all and become spaces. A backslash is where the servers disagree
 * (InfluxDB 1.x keeps `\\` as two characters and cannot end a tag in one, 2.x and VictoriaMetrics
 * unescape it), so our tags, which are identifiers, carry a `/` in its place. An empty value is not
 * allowed in line protocol and becomes "unknown".
 */
export function escapeTag(value: string): string {
  if (value === '') return 'unknown';
  if (!NEEDS_TAG_ESCAPE.test(value)) return value; // the common case: an identifier
  return value.replace(LINE_BREAKS, ' ').replace(/\\/g, '/').replace(/[,= ]/g, (c) => `\\${c}`);
}

/** A measurement name: comma and space escaped (same backslash and line-break rule as tags). */
export function escapeMeasurement(name: string): string {
  return name.replace(LINE_BREAKS, ' ').replace(/\\/g, '/').replace(/[, ]/g, (c) => `\\${c}`);
}

/**
 * A string field value, quoted: double quote and backslash escaped. Line breaks become spaces
 * (VictoriaMetrics splits lines on them even inside quotes).
 */
export function quoteString(value: string): string {
  if (!NEEDS_STRING_ESCAPE.test(value)) return `"${value}"`;
  return `"${value.replace(LINE_BREAKS, ' ').replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** An integer field (`i` suffix); throws on a non-integer, which would be a bug in the caller. */
export function integerField(value: number): string {
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`line protocol: integer field is not an integer: ${value}`);
  return `${value}i`;
}

/** A float field, or null for a value line protocol cannot carry (NaN, ±Infinity): the field is left out. */
export function floatField(value: number): string | null {
  if (!Number.isFinite(value)) return null;
  // Always a float in InfluxDB's eyes: a bare integer literal without `i` is a float.
  return String(value);
}

/** 32-bit FNV-1a of a string: a stable, cheap tiebreak (not security). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Nanosecond timestamp for a point: the time in milliseconds, plus a sub-millisecond tiebreak
 * (0–999 999 ns) derived from a stable id.
 *
 * Why: InfluxDB identifies a point by measurement + tag set + timestamp and a second write with the
 * same identity overwrites the first. Probe ids are fields (not tags), so two measurements of the
 * same target from the same network with the same verdict, started in the same millisecond by two
 * probes, would be one point and one would be lost. The tiebreak from the measurement id makes them
 * two points (they then collide only with probability 1e-6), while the same measurement written
 * twice (a replay after an outage or a restart: the sink is at-least-once) gets the same timestamp
 * and overwrites itself — replays are idempotent. The shift is below the millisecond precision of
 * `started_at`, so no chart moves.
 *
 * VictoriaMetrics stores milliseconds: there the tiebreak is cut off, two such measurements share a
 * timestamp, and with its deduplication on (`-dedup.minScrapeInterval=1ms`, which is what makes
 * replays idempotent there) one of them is dropped. That needs two probes of one network starting the
 * same target in the same millisecond with the same verdict: rare enough not to move a blocked share.
 */
export function pointTimestamp(ms: number, id: string): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidArgumentError(`line protocol: bad time ${ms}`);
  const tiebreak = fnv1a(id) % 1_000_000;
  return `${ms}${String(tiebreak).padStart(6, '0')}`;
}

function timeMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`line protocol: ${what} is not a time: ${JSON.stringify(iso)}`);
  return ms;
}

/** The fastest successful TCP connect of a measurement (ms): the `rtt` field; null when no connect succeeded. */
export function connectRtt(measurement: Measurement): number | null {
  let best: number | null = null;
  for (const tcp of measurement.evidence.tcp) {
    if (tcp.failure === null && tcp.rtt_ms !== null && Number.isFinite(tcp.rtt_ms) && (best === null || tcp.rtt_ms < best)) {
      best = tcp.rtt_ms;
    }
  }
  return best;
}

/** One point: escaped measurement and tags, the fields that have a value (each already in line-protocol form), a timestamp in ns. */
export function line(measurement: string, tags: Array<[string, string]>, fields: Array<[string, string | null]>, timestamp: string): string {
  const tagText = tags.map(([k, v]) => `,${escapeTag(k)}=${escapeTag(v)}`).join('');
  const fieldText = fields
    .filter((f): f is [string, string] => f[1] !== null)
    .map(([k, v]) => `${escapeTag(k)}=${v}`)
    .join(',');
  return `${escapeMeasurement(measurement)}${tagText} ${fieldText} ${timestamp}`;
}

/**
 * The `reachability` point of one archived measurement.
 *
 * Tags (low cardinality only): target, category, asn and cc (the archived record's attribution, made
 * once at ingest: the connection's lookup, else the probe's claim; "unknown" when neither has it), layer (the verdict's layer or "none"), verdict
 * (the verdict the collector stores, which series, events and reports use: its own when a control judged the measurement, see
 * verdictOf), probe_verdict (the probe's own verdict); the two differ only where the control changed the verdict (a few more series).
 * Fields: blocked (1i for every verdict except ok, down, offline, inconclusive; else 0i), rtt (float
 * ms: the fastest successful TCP connect of the measurement, left out when none succeeded), runtime
 * (float ms: the whole measurement's run time), count=1i (sum it for totals), probe (string: the
 * probe id, a field so that it adds no series), version (string: the probe's software version),
 * dns_rtt / tls_rtt / http_rtt (float ms: the fastest successful query, handshake, request; left out
 * when none succeeded), lag (float s: from the end of the measurement to its arrival at the
 * collector), partial=1i (only on a blocked verdict of scope partial), issuer (string, only on
 * tls.interception: the issuer at the top of the chain that did not validate), bulk_rate and canary_rate (float bytes/s, when the
 * measurement carries throttling evidence: the best rate of its own bulk reads and the canaries' best rate in the same run; see
 * {@link throttleRates}). Time: `started_at` in ns with the tiebreak of
 * {@link pointTimestamp} from the measurement id. Throws InvalidArgumentError for a record without a
 * readable start time.
 */
export function toLines(record: ArchivedRecord): string[] {
  const m = record.measurement;
  const decided = verdictOf(record);
  return [reachabilityTags(m.target.id, m.target.category, record.asn, record.cc, decided.layer, decided.verdict, m.verdict.verdict) + reachabilityRest(record)];
}

/** The `reachability` line up to (and including) the first field, `blocked`. */
function reachabilityTags(
  target: string,
  category: string,
  asn: number | null,
  cc: string | null,
  layer: string | null,
  verdict: Verdict,
  probeVerdict: Verdict,
): string {
  return (
    REACHABILITY +
    ',target=' +
    escapeTag(target) +
    ',category=' +
    escapeTag(category) +
    ',asn=' +
    (asn === null ? 'unknown' : escapeTag(String(asn))) +
    ',cc=' +
    escapeTag(cc ?? 'unknown') +
    ',layer=' +
    escapeTag(layer ?? 'none') +
    ',verdict=' +
    escapeTag(verdict) +
    ',probe_verdict=' +
    escapeTag(probeVerdict) +
    (isBlocked(verdict) ? ' blocked=1i' : ' blocked=0i')
  );
}

/** The fastest successful step of a layer (ms), or null when none succeeded. */
function fastest(steps: ReadonlyArray<{ failure: string | null; rtt_ms: number | null }>): number | null {
  let best: number | null = null;
  for (const s of steps) {
    if (s.failure === null && s.rtt_ms !== null && Number.isFinite(s.rtt_ms) && (best === null || s.rtt_ms < best)) best = s.rtt_ms;
  }
  return best;
}

/** The issuer at the top of the first chain that did not validate (the intercepting CA), or null. */
export function interceptionIssuer(measurement: Measurement): string | null {
  for (const tls of measurement.evidence.tls) {
    if (tls.trusted === false && tls.chain.length > 0) return tls.chain[tls.chain.length - 1]!.issuer;
  }
  return null;
}

/** A finite number ≥ 0, else null. */
function rate(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

/**
 * The throttling figures of a measurement (bytes/s): `bulk`, the best rate of its own bulk reads
 * (`evidence.bulk[].rate_bps`), and `canary`, the canaries' best rate in the same run
 * (`evidence.baseline.bulk_rate_bps`); each null when absent. Read defensively: the evidence comes
 * from probes of several versions (older ones have neither), and a value that is not a finite
 * number ≥ 0 is left out rather than failing the point.
 */
export function throttleRates(measurement: Measurement): { bulk: number | null; canary: number | null } {
  const evidence = measurement.evidence as { bulk?: unknown; baseline?: unknown };
  let bulk: number | null = null;
  if (Array.isArray(evidence.bulk)) {
    for (const read of evidence.bulk as unknown[]) {
      const r = typeof read === 'object' && read !== null ? rate((read as { rate_bps?: unknown }).rate_bps) : null;
      if (r !== null && (bulk === null || r > bulk)) bulk = r;
    }
  }
  const baseline = evidence.baseline;
  const canary = typeof baseline === 'object' && baseline !== null ? rate((baseline as { bulk_rate_bps?: unknown }).bulk_rate_bps) : null;
  return { bulk, canary };
}

/** `,name=value` of a float field, or nothing for a missing or unwritable value. */
function optionalFloat(name: string, value: number | null): string {
  if (value === null) return '';
  const text = floatField(value);
  return text === null ? '' : `,${name}=${text}`;
}

/**
 * The rest of a `reachability` line after `blocked`: rtt, runtime, count, probe, version, the
 * timings per layer, the upload lag, partial, issuer, and the timestamp.
 */
function reachabilityRest(record: ArchivedRecord): string {
  const m = record.measurement;
  const started = timeMs(m.started_at, 'started_at');
  let fields = optionalFloat('rtt', connectRtt(m)) + optionalFloat('runtime', m.runtime_ms);
  fields += ',count=1i,probe=' + quoteString(record.probe_id || m.probe.id) + ',version=' + quoteString(m.probe.software.version);
  let dnsBest: number | null = null;
  for (const d of m.evidence.dns) {
    const q = fastest(d.queries);
    if (q !== null && (dnsBest === null || q < dnsBest)) dnsBest = q;
  }
  fields += optionalFloat('dns_rtt', dnsBest) + optionalFloat('tls_rtt', fastest(m.evidence.tls)) + optionalFloat('http_rtt', fastest(m.evidence.http));
  const received = Date.parse(record.received_at);
  if (!Number.isNaN(received)) fields += optionalFloat('lag', Math.max(0, received - started - (Number.isFinite(m.runtime_ms) ? m.runtime_ms : 0)) / 1000);
  const decided = verdictOf(record);
  if (decided.scope === 'partial' && isBlocked(decided.verdict)) fields += ',partial=1i';
  if (decided.verdict === 'tls.interception') {
    const issuer = interceptionIssuer(m);
    if (issuer !== null) fields += ',issuer=' + quoteString(issuer);
  }
  const throttling = m.evidence as { bulk?: unknown; baseline?: unknown };
  if (throttling.bulk !== undefined || throttling.baseline !== undefined) {
    const rates = throttleRates(m);
    fields += optionalFloat('bulk_rate', rates.bulk) + optionalFloat('canary_rate', rates.canary);
  }
  return fields + ' ' + pointTimestamp(started, m.id);
}

/** Most tag sets a {@link ReachabilityLines} remembers before it starts over. */
const MAX_CACHED_TAG_SETS = 4096;

/**
 * Builds the same `reachability` lines as {@link toLines}, cheaper: the escaped tag set (all of the
 * line up to the fields) is remembered per combination of tag values, which are few (targets ×
 * categories × networks × verdicts), and the line is assembled from fewer pieces. One per sink.
 */
export class ReachabilityLines {
  private readonly tagSets = new Map<string, string>();

  /** The line of one record; throws InvalidArgumentError like toLines for a record without a readable start time. */
  line(record: ArchivedRecord): string {
    const m = record.measurement;
    const { asn, cc } = record;
    const decided = verdictOf(record);
    const layer = decided.layer;
    const verdict = decided.verdict;
    const probeVerdict = m.verdict.verdict;
    // \u0000 cannot occur in the values that reach here (validated identifiers); if it did, only the cache key would be ambiguous.
    const key =
      m.target.id + '\u0000' + m.target.category + '\u0000' + (asn === null ? '' : asn) + '\u0000' + (cc ?? '\u0001') + '\u0000' + (layer ?? '\u0001') + '\u0000' + verdict +
      (probeVerdict === verdict ? '' : '\u0000' + probeVerdict);
    let tags = this.tagSets.get(key);
    if (tags === undefined) {
      tags = reachabilityTags(m.target.id, m.target.category, asn, cc, layer, verdict, probeVerdict);
      if (this.tagSets.size >= MAX_CACHED_TAG_SETS) this.tagSets.clear();
      this.tagSets.set(key, tags);
    }
    return tags + reachabilityRest(record);
  }
}

/** A blocking event's start or end, as a Grafana annotation point. */
export interface BlockingEventPoint {
  /** Stable id of the event (its start and end share it). */
  id: string;
  /** A target id, or a target group's name ("all" for a shutdown). */
  target: string;
  asn: number | null;
  cc: string | null;
  /** How the blocking is done: a verdict such as "tls.reset", or "shutdown". */
  method: string;
  /** "start", "end", or "revised": the point no longer stands (the event moved or was retracted). */
  state: 'start' | 'end' | 'revised';
  /** Which of the event's points this is: the state, except for a revised point, which needs it. */
  edge?: 'start' | 'end';
  /** ISO 8601 time of the start (edge "start") or the end (edge "end"). */
  at: string;
  /** Distinct probes that saw it. */
  probes: number;
  /** 0..1. */
  confidence: number;
  /** The annotation's text, e.g. "YouTube unreachable on AS9198 (tls.reset), 14 probes". */
  text: string;
  /** The event's kind (blocking, partial, throttling, shutdown) and scope, as fields when given. */
  kind?: string;
  scope?: string;
  /** The incident the event belongs to, as a field when given. */
  incident?: string | null;
}

/**
 * The `blocking_event` point: tags target, asn, cc, method; fields state ("start"/"end"/"revised"),
 * probes, confidence, text, the event id, and kind, scope and incident when given (fields, so that they add no
 * series and a revision can change them). Time: `at` in ns with a tiebreak from id and edge, so a
 * start and an end at the same instant stay two points, and a point written again as "revised"
 * (same tags, same edge, same time) overwrites the one it replaces.
 */
export function eventLine(event: BlockingEventPoint): string {
  const edge = event.edge ?? (event.state === 'revised' ? null : event.state);
  if (edge === null) throw new InvalidArgumentError('line protocol: a revised event point needs its edge (start or end)');
  return line(
    BLOCKING_EVENT,
    [
      ['target', event.target],
      ['asn', event.asn === null ? 'unknown' : String(event.asn)],
      ['cc', event.cc ?? 'unknown'],
      ['method', event.method],
    ],
    [
      ['state', quoteString(event.state)],
      ['probes', integerField(event.probes)],
      ['confidence', floatField(event.confidence)],
      ['text', quoteString(event.text)],
      ['event', quoteString(event.id)],
      ['kind', event.kind === undefined ? null : quoteString(event.kind)],
      ['scope', event.scope === undefined ? null : quoteString(event.scope)],
      ['incident', event.incident === undefined || event.incident === null ? null : quoteString(event.incident)],
    ],
    pointTimestamp(timeMs(event.at, 'event time'), `${event.id}/${edge}`),
  );
}
