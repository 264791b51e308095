// Runs every censorship scenario (one file per family) through the real engine and real sockets on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTargets } from '../probe/engine/run.js';
import type { Evidence } from '../contract/evidence.js';
import { VERDICTS } from '../contract/verdict.js';
import { dnsCases } from './scenarios/dns.js';
import { httpCases } from './scenarios/http.js';
import { REAL, type ObservationExpectation, type ScenarioCase } from './loopback/scenario.js';
import { tcpCases } from './scenarios/tcp.js';
import { tlsCases } from './scenarios/tls.js';
import { addressOf, buildWorld, CANARIES, startLab, toTarget, type Lab } from './loopback/world.js';

const families: Record<string, ScenarioCase[]> = { dns: dnsCases, tcp: tcpCases, tls: tlsCases, http: httpCases };
const all = Object.values(families).flat();
const universe = [...new Set([...all.flatMap((c) => toTarget(c.target).domains), ...CANARIES.flatMap((t) => t.domains)])];
const settings = { timeoutMs: 800, listenWindowMs: 150 };

/** A selector's address: REAL stands for the domain's real lab address. */
function ip(selector: string, domain: string | null): string {
  return selector === REAL && domain !== null ? addressOf(domain, universe) : selector;
}

function observed(evidence: Evidence, e: ObservationExpectation): unknown[] {
  switch (e.layer) {
    case 'dns':
      return evidence.dns
        .filter((d) => d.domain === e.domain)
        .flatMap((d) => d.queries)
        .filter((q) => (e.resolver === undefined || q.kind === e.resolver) && (e.qtype === undefined || q.qtype === e.qtype));
    case 'tcp':
      return evidence.tcp.filter(
        (t) => (e.domain === undefined || t.domain === e.domain) && (e.ip === undefined || t.ip === ip(e.ip, t.domain)) && (e.port === undefined || t.port === e.port),
      );
    case 'tls':
      return evidence.tls.filter(
        (t) => (e.domain === undefined || t.domain === e.domain) && (e.ip === undefined || t.ip === ip(e.ip, t.domain)) && (e.port === undefined || t.port === e.port),
      );
    case 'http':
      return evidence.http.filter((h) => e.domain === undefined || h.domain === e.domain);
  }
}

let lab: Lab;
beforeAll(async () => {
  lab = await startLab(universe);
});
afterAll(async () => {
  await lab?.close();
});

for (const [family, cases] of Object.entries(families)) {
  describe(`${family} scenarios`, () => {
    for (const c of cases) {
      it(c.name, async () => {
        const world = await buildWorld(lab, c, settings);
        try {
          const measurements = await runTargets(world.targets, world.options, world.deps);
          const m = measurements.find((x) => x.target.id === c.target.id)!;
          const context = `${c.name}: ${JSON.stringify(m.verdict)}`;
          expect(m.verdict.verdict, context).toBe(c.expect.verdict);
          if (c.expect.layer !== undefined) expect(m.verdict.layer, context).toBe(c.expect.layer);
          if (c.expect.minConfidence !== undefined) expect(m.verdict.confidence, context).toBeGreaterThanOrEqual(c.expect.minConfidence);
          for (const e of c.expect.observations ?? []) {
            const found = observed(m.evidence, e);
            expect(found.length, `${c.name}: no ${e.layer} observation matches ${JSON.stringify(e)}`).toBeGreaterThan(0);
            for (const o of found) expect(o, `${c.name}: ${e.layer}`).toMatchObject(e.has);
          }
          // The canaries ran too; unless the whole network is down they are fine and change nothing.
          for (const canary of measurements.filter((x) => x.target.category === 'canary')) {
            expect(canary.verdict.verdict).toBe(c.censor.shutdown ? 'offline' : 'ok');
          }
        } finally {
          await world.close();
        }
      });
    }
  });
}

describe('scenario coverage', () => {
  it('produces every verdict of DESIGN.md except down (which needs the control) end to end', () => {
    const produced = new Set(all.map((c) => c.expect.verdict));
    const missing = VERDICTS.filter((v) => v !== 'down' && !produced.has(v));
    expect(missing).toEqual([]);
  });
});
