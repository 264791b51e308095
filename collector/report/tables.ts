// Phase 3a of the report: the findings as worded tables and sentences in one language, shared by the HTML, Markdown and CSV renderers (so all three carry the same numbers).
import { kazakhstanMinute, utcMinute } from '../../common/local-time.js';
import { VERDICTS } from '../../contract/verdict.js';
import type { BlockingEvent } from '../events/types.js';
import { clip, type Findings } from './findings.js';
import type { Strings } from './strings/strings.js';

export interface Link {
  text: string;
  href: string;
}

/** A cell: plain text, or links (example measurements). */
export type Cell = string | Link[];

export interface Table {
  /** Also the CSV file's name (without .csv). */
  id: string;
  title: string;
  headers: string[];
  rows: Cell[][];
  /** Shown instead of an empty table. */
  empty?: string;
}

export interface ReportText {
  title: string;
  generated: string;
  periodNote: string;
  findings: string[];
  tables: Table[];
}

export const hours = (h: number): string => h.toFixed(1);
export const percent = (x: number | null, na: string): string => (x === null ? na : `${(x * 100).toFixed(1)}%`);
const localTime = (ms: number): string => kazakhstanMinute(ms);

export function networkName(asn: number | null, s: Strings): string {
  return asn === null ? s.unknownNetwork : `AS${asn}`;
}

function eventNetworks(e: BlockingEvent, s: Strings): string {
  if (e.asns.length === 0) return e.cc ?? s.allNetworks;
  return e.asns.map((a) => `AS${a}`).join(', ');
}

function examples(ids: readonly string[], baseUrl: string): Link[] {
  return ids.slice(0, 3).map((id) => ({ text: id, href: `${baseUrl}/api/v1/measurements/${encodeURIComponent(id)}` }));
}

/** "9 May" in Kazakhstan's local calendar. */
function localDay(ms: number, s: Strings): string {
  return new Intl.DateTimeFormat(s.locale, { day: 'numeric', month: 'long', timeZone: 'Asia/Almaty' }).format(new Date(ms));
}

function keyFindings(f: Findings, s: Strings): string[] {
  const out: string[] = [];
  const c = f.coverage;
  out.push(s.coverageSentence({ probes: c.probes === null ? s.notAvailable : String(c.probes), networks: c.networks, measurements: c.measurements, days: c.daysMeasured, of: c.daysInPeriod, gaps: c.gaps.length }));
  const blocked = f.services.filter((x) => x.hoursBlocked > 0).sort((a, b) => b.hoursBlocked - a.hoursBlocked || a.target.localeCompare(b.target));
  for (const x of blocked) {
    const longest = x.longest === null ? null : clip(x.longest, f.period.from, f.until);
    out.push(
      s.serviceBlocked({
        service: x.target,
        networks: x.networksBlocked.length,
        of: f.coverage.networks,
        hours: hours(x.hoursBlocked),
        incidents: x.incidents,
        longest: longest === null ? null : { day: localDay(longest.start, s), from: localTime(longest.start).slice(11, 16), to: localTime(longest.end).slice(11, 16) },
      }),
    );
  }
  for (const x of f.services.filter((y) => y.hoursThrottled > 0)) {
    const nets = new Set(f.events.filter((e) => e.kind === 'throttling' && e.targets.includes(x.target)).flatMap((e) => e.asns));
    out.push(s.serviceThrottled(x.target, hours(x.hoursThrottled), nets.size));
  }
  if (f.shutdowns.length > 0) {
    const total = f.shutdowns.reduce((sum, e) => sum + (clip(e, f.period.from, f.until).end - clip(e, f.period.from, f.until).start), 0);
    out.push(s.shutdowns(f.shutdowns.length, hours(total / 3_600_000)));
  }
  const intercepted = f.interception.reduce((sum, p) => sum + p.count, 0);
  if (intercepted > 0) out.push(s.interceptionSeen(intercepted, new Set(f.interception.map((p) => p.asn)).size));
  if (f.events.length === 0) out.push(s.nothingBlocked);
  return out;
}

export function reportText(f: Findings, s: Strings, baseUrl: string): ReportText {
  const c = s.cols;
  const na = s.notAvailable;
  const end = (e: { end: number | null }, fmt: (ms: number) => string): string => (e.end === null ? s.open : fmt(e.end));
  const tables: Table[] = [
    {
      id: 'coverage',
      title: s.sections.coverage,
      headers: [c.figure, c.value],
      rows: [
        [s.coverageRows.probes, f.coverage.probes === null ? na : String(f.coverage.probes)],
        [s.coverageRows.networks, String(f.coverage.networks)],
        [s.coverageRows.measurements, String(f.coverage.measurements)],
        [s.coverageRows.days, `${f.coverage.daysMeasured} / ${f.coverage.daysInPeriod}`],
        [s.coverageRows.hours, `${f.coverage.hoursMeasured} / ${f.coverage.hoursInPeriod}`],
        [s.coverageRows.gaps, String(f.coverage.gaps.reduce((sum, g) => sum + g.hours, 0))],
      ],
    },
    {
      id: 'gaps',
      title: s.sections.gaps,
      headers: [c.start, c.end, c.startLocal, c.hours],
      rows: f.coverage.gaps.map((g) => [utcMinute(g.start), utcMinute(g.end), localTime(g.start), String(g.hours)]),
      empty: s.noGaps,
    },
    {
      id: 'services',
      title: s.sections.services,
      headers: [c.service, c.measurements, c.networks, c.networksBlocked, c.hoursBlocked, c.hoursThrottled, c.blockedShare, c.methods, c.verdicts, c.partial, c.events, c.incidents],
      rows: f.services.map((x) => [
        x.target,
        String(x.measurements),
        String(x.networksMeasured),
        String(x.networksBlocked.length),
        hours(x.hoursBlocked),
        hours(x.hoursThrottled),
        percent(x.blockedShare, na),
        x.methods.join(', '),
        x.verdicts.join(', '),
        x.partial ? s.yes : s.no,
        String(x.events),
        String(x.incidents),
      ]),
    },
    {
      id: 'availability',
      title: s.sections.availability,
      headers: [c.service, c.network, c.probes, c.measurements, c.availability, c.blockedShare, c.hoursBlocked, c.verdicts],
      rows: f.services.flatMap((x) =>
        x.networks.map((n) => [
          x.target,
          networkName(n.asn, s),
          n.probes === null ? na : String(n.probes),
          String(n.measurements),
          percent(n.availability, na),
          percent(n.blockedShare, na),
          hours(n.hoursBlocked),
          Object.entries(n.verdicts)
            .sort((a, b) => b[1] - a[1])
            .map(([v, k]) => `${v} ${k}`)
            .join(', '),
        ]),
      ),
    },
    {
      id: 'events',
      title: s.sections.events,
      headers: [c.start, c.end, c.startLocal, c.endLocal, c.duration, c.services, c.network, c.method, c.kind, c.probes, c.measurements, c.confidence, c.incidents, c.examples],
      rows: f.events.map((e) => {
        const span = clip(e, f.period.from, f.until);
        return [
          utcMinute(e.start),
          end(e, utcMinute),
          localTime(e.start),
          end(e, localTime),
          hours((span.end - span.start) / 3_600_000),
          e.targets.includes('*') ? s.allServices : e.targets.join(', '),
          eventNetworks(e, s),
          e.scope === 'partial' ? `${e.method} (partial)` : e.method,
          e.kind,
          String(e.probe_count),
          String(e.measurement_count),
          e.confidence.toFixed(2),
          e.incident ?? '',
          examples(e.evidence, baseUrl),
        ];
      }),
      empty: s.noEvents,
    },
    {
      id: 'incidents',
      title: s.sections.incidents,
      headers: [c.start, c.end, c.startLocal, c.endLocal, c.duration, c.title, c.services, c.network, c.method, c.events, c.confidence, c.examples],
      rows: f.incidents.map((i) => {
        const own = f.events.filter((e) => i.event_ids.includes(e.id));
        const span = { start: Math.max(i.start, f.period.from), end: Math.min(i.end ?? f.until, f.until) };
        const confidence = own.length > 0 ? Math.max(...own.map((e) => e.confidence)).toFixed(2) : na;
        return [
          utcMinute(i.start),
          end(i, utcMinute),
          localTime(i.start),
          end(i, localTime),
          hours((span.end - span.start) / 3_600_000),
          i.title,
          i.targets.includes('*') ? s.allServices : i.targets.join(', '),
          i.asns.length > 0 ? i.asns.map((a) => `AS${a}`).join(', ') : i.ccs.join(', ') || s.allNetworks,
          i.method,
          String(i.event_ids.length),
          confidence,
          examples(own.flatMap((e) => e.evidence.slice(0, 1)), baseUrl),
        ];
      }),
      empty: s.noEvents,
    },
    {
      id: 'chronic',
      title: s.sections.chronic,
      headers: [c.service, c.network, c.method, c.since, c.lastSeen, c.baseline],
      rows: f.chronic.map((x) => [x.target, x.asn === null ? (x.cc ?? s.allNetworks) : `AS${x.asn}`, x.method, utcMinute(x.first_seen), utcMinute(x.last_seen), percent(x.baseline, na)]),
      empty: s.noEvents,
    },
  ];
  if (f.issuers.length > 0) {
    tables.push({
      id: 'interception',
      title: s.sections.interception,
      headers: [c.issuer, c.network, c.count, c.first, c.last],
      rows: f.issuers.map((x) => [x.issuer || na, networkName(x.asn, s), String(x.count), utcMinute(x.first), utcMinute(x.last)]),
    });
  }
  tables.push({ id: 'verdicts', title: s.sections.verdicts, headers: [c.verdict, c.meaning], rows: VERDICTS.map((v) => [v, s.verdictMeaning[v]]) });
  return {
    title: s.title(f.period.month, f.period.country),
    generated: s.generated(utcMinute(f.generatedAt), localTime(f.generatedAt)),
    periodNote: s.periodNote,
    findings: keyFindings(f, s),
    tables,
  };
}
