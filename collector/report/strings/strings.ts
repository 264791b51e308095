// The words of the report: one object per language with the same keys (en.ts, ru.ts); numbers are formatted by the caller, the same in every language.
import type { Verdict } from '../../../contract/verdict.js';

export interface ServiceSentence {
  service: string;
  networks: number;
  of: number;
  hours: string;
  incidents: number;
  /** The longest event: its local day ("9 May") and local times. */
  longest: { day: string; from: string; to: string } | null;
}

export interface Strings {
  /** BCP 47 locale for dates in words. */
  locale: string;
  title: (month: string, country: string) => string;
  generated: (utc: string, local: string) => string;
  periodNote: string;
  sections: {
    findings: string;
    coverage: string;
    services: string;
    availability: string;
    events: string;
    incidents: string;
    chronic: string;
    interception: string;
    charts: string;
    methodology: string;
    verdicts: string;
    limitations: string;
    gaps: string;
  };
  cols: Record<
    | 'service' | 'network' | 'measurements' | 'networks' | 'networksBlocked' | 'hoursBlocked' | 'hoursThrottled' | 'methods' | 'verdicts' | 'partial' | 'events' | 'incidents'
    | 'availability' | 'blockedShare' | 'probes' | 'start' | 'end' | 'startLocal' | 'endLocal' | 'duration' | 'services' | 'method' | 'kind' | 'confidence' | 'examples' | 'title'
    | 'since' | 'lastSeen' | 'baseline' | 'issuer' | 'count' | 'first' | 'last' | 'hours' | 'figure' | 'value' | 'verdict' | 'meaning',
    string
  >;
  coverageRows: { probes: string; networks: string; measurements: string; days: string; hours: string; gaps: string };
  notAvailable: string;
  open: string;
  yes: string;
  no: string;
  allNetworks: string;
  allServices: string;
  unknownNetwork: string;
  serviceBlocked: (s: ServiceSentence) => string;
  serviceThrottled: (service: string, hours: string, networks: number) => string;
  shutdowns: (count: number, hours: string) => string;
  interceptionSeen: (count: number, networks: number) => string;
  nothingBlocked: string;
  coverageSentence: (c: { probes: string; networks: number; measurements: number; days: number; of: number; gaps: number }) => string;
  noEvents: string;
  noGaps: string;
  noIndex: string;
  charts: {
    daily: string;
    heatmap: string;
    interception: string;
    handshake: string;
    throttled: string;
    day: string;
    hour: string;
    share: string;
    throttledShare: string;
    ms: string;
    count: string;
    percentile: string;
    network: string;
    service: string;
  };
  methodology: string[];
  limitations: string[];
  verdictMeaning: Record<Verdict, string>;
}
