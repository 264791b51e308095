// The catalogue itself: stable unique names, tiers that agree with their case's verdict, and which verdicts each tier covers.
import { describe, expect, it } from 'vitest';
import { VERDICTS, type Verdict } from '../contract/verdict.js';
import { CATALOGUE, LAB_SCENARIOS, TIERS, byVerdict, casesOf, labExpectations, type Tier } from './catalogue/index.js';
import { LAB_TARGETS } from './lab/topology.js';

/**
 * Verdicts a tier has no case for yet, listed on purpose (a new case there must remove its verdict
 * from the list). The pure tiers together cover the whole vocabulary.
 */
/** In the contract (DESIGN.md's vocabulary) but not yet produced by the classifier: none left. */
const NOT_YET_CLASSIFIED: readonly Verdict[] = [];

const NOT_YET: Record<Tier, readonly Verdict[]> = {
  // `down` needs the control's evidence.
  evidence: ['down'],
  control: [
    'dns.bogon',
    'dns.injected',
    'dns.inconsistent',
    'dns.timeout',
    'tcp.reset',
    'tcp.refused',
    'tls.reset',
    'tls.timeout',
    'tls.eof',
    'http.blockpage',
    'http.reset',
    'http.timeout',
    'http.diff',
    'http.throttled',
    'offline',
    'inconclusive',
  ],
  // The probe run on loopback has no control.
  loopback: ['down'],
  lab: ['dns.inconsistent', 'tls.timeout', 'tls.eof', 'http.diff', 'down', 'inconclusive'],
};

const coveredBy = (tier: Tier): Set<Verdict> => new Set(casesOf(tier).map((c) => c.verdict));

describe('catalogue', () => {
  it('names every case once, in a stable kebab-case form', () => {
    const names = CATALOGUE.map((c) => c.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    for (const n of names) expect(n).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  it('gives every case at least one tier', () => {
    expect(CATALOGUE.filter((c) => TIERS.every((t) => c[t] === undefined)).map((c) => c.name)).toEqual([]);
  });

  it('is keyed by verdict: byVerdict holds every case under its verdict, once', () => {
    expect(Object.keys(byVerdict).sort()).toEqual([...VERDICTS].sort());
    for (const v of VERDICTS) for (const c of byVerdict[v]) expect(c.verdict, c.name).toBe(v);
    expect(VERDICTS.reduce((n, v) => n + byVerdict[v].length, 0)).toBe(CATALOGUE.length);
  });

  it('has a case for every verdict the classifier produces, in some tier', () => {
    expect(VERDICTS.filter((v) => byVerdict[v].length === 0)).toEqual(NOT_YET_CLASSIFIED);
  });

  it('covers every verdict the classifier produces in the pure tiers (evidence and control together)', () => {
    const pure = new Set([...coveredBy('evidence'), ...coveredBy('control')]);
    expect(VERDICTS.filter((v) => !pure.has(v))).toEqual(NOT_YET_CLASSIFIED);
  });

  it.each(TIERS)('%s tier: lacks a case for exactly the verdicts listed as not yet covered', (tier) => {
    const covered = coveredBy(tier);
    expect(VERDICTS.filter((v) => !covered.has(v))).toEqual(NOT_YET[tier]);
  });

  it('loopback: only the shutdown case takes the whole network down', () => {
    for (const c of casesOf('loopback')) expect(c.loopback.censor.shutdown === true, c.name).toBe(c.verdict === 'offline');
  });

  it("lab: every blocked target is a lab target and gets the case's verdict; every other target stays ok", () => {
    const ids = LAB_TARGETS.map((t) => t.id);
    for (const s of LAB_SCENARIOS) {
      for (const id of Object.keys(s.blocked)) expect(ids, `${s.name}: ${id}`).toContain(id);
      const notOk = Object.entries(labExpectations(s)).filter(([, e]) => e.verdict !== 'ok');
      if (s.verdict === 'ok') expect(notOk, s.name).toEqual([]);
      else {
        expect(notOk.length, `${s.name}: some target is blocked`).toBeGreaterThan(0);
        for (const [id, e] of notOk) expect(e.verdict, `${s.name}: ${id}`).toBe(s.verdict);
      }
    }
  });

  it('lab: keeps the order the lab runs its scenarios in, the shutdown last (what the daemon spooled then is delivered after it)', () => {
    expect(LAB_SCENARIOS.map((s) => s.name)).toEqual([
      'clean',
      'dns-nxdomain',
      'dns-bogon',
      'dns-injection',
      'resolver-drops-name',
      'tcp-reset',
      'tcp-refused',
      'blackhole',
      'telegram-dc-partial',
      'sni-filter',
      'tls-interception',
      'http-blockpage',
      'http-only-blockpage',
      'host-keyword-reset',
      'silent-after-request',
      'throttling',
      'portal-refused',
      'portal-dropped',
      'portal-dns',
      'portal-login',
      'shutdown',
    ]);
  });
});
