// The censorship test catalogue: every case by family and by verdict, and each tier's view of it.
import { VERDICTS, type Verdict } from '../../contract/verdict.js';
import { LAB_TARGETS } from '../lab/topology.js';
import type { CatalogueCase, LabExpected, LabTier, Tier } from './case.js';
import { cleanCases } from './clean.js';
import { dnsCases } from './dns.js';
import { httpCases } from './http.js';
import { lineCases } from './line.js';
import { shutdownCases } from './shutdown.js';
import { tcpCases } from './tcp.js';
import { tlsCases } from './tls.js';

export type { CatalogueCase, Tier } from './case.js';
export { TIERS } from './case.js';

/** One file per family; the order is the order the tiers run them in (the lab's shutdown comes last). */
export const FAMILIES = {
  clean: cleanCases,
  dns: dnsCases,
  tcp: tcpCases,
  tls: tlsCases,
  http: httpCases,
  line: lineCases,
  shutdown: shutdownCases,
} as const satisfies Record<string, readonly CatalogueCase[]>;
export type Family = keyof typeof FAMILIES;

export const CATALOGUE: readonly CatalogueCase[] = Object.values(FAMILIES).flat();

/** Every verdict of the vocabulary with the cases that expect it (an empty list: no case yet). */
export const byVerdict: Readonly<Record<Verdict, readonly CatalogueCase[]>> = (() => {
  const out = {} as Record<Verdict, CatalogueCase[]>;
  for (const v of VERDICTS) out[v] = CATALOGUE.filter((c) => c.verdict === v);
  return out;
})();

/** A family's cases that have data for `tier`, each with it. */
export function casesOf<T extends Tier>(tier: T, cases: readonly CatalogueCase[] = CATALOGUE): Array<CatalogueCase & Required<Pick<CatalogueCase, T>>> {
  return cases.filter((c): c is CatalogueCase & Required<Pick<CatalogueCase, T>> => c[tier] !== undefined);
}

/** A case's test title: its name, then what the tier's data shows. */
export function title(c: CatalogueCase, about: string | undefined): string {
  return about === undefined ? c.name : `${c.name}: ${about}`;
}

/** A lab scenario: the lab tier of a case, known by the case's name. */
export interface LabScenario extends LabTier {
  name: string;
  verdict: Verdict;
}

/** The lab's scenarios in the order the lab test runs them. */
export const LAB_SCENARIOS: readonly LabScenario[] = casesOf('lab').map((c) => ({ ...c.lab, name: c.name, verdict: c.verdict }));

export function labScenario(name: string): LabScenario | undefined {
  return LAB_SCENARIOS.find((s) => s.name === name);
}

/** The verdict every lab target must get under `s`. */
export function labExpectations(s: LabTier): Record<string, LabExpected> {
  const out: Record<string, LabExpected> = {};
  for (const t of LAB_TARGETS) out[t.id] = s.all ?? s.blocked[t.id] ?? { verdict: 'ok', layer: null };
  return out;
}
