// The catalogue's loopback tier: every case's fake censor through the real engine and real sockets on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTargets } from '../probe/engine/run.js';
import type { DnsQueryObservation, Evidence } from '../contract/evidence.js';
import { FAMILIES, casesOf, title } from './catalogue/index.js';
import { REAL, type ObservationExpectation, type ScenarioCase } from './loopback/scenario.js';
import { addressOf, buildWorld, CANARIES, startLab, toTarget, type Lab } from './loopback/world.js';

const all = casesOf('loopback');
const universe = [...new Set([...all.flatMap((c) => toTarget(c.loopback.target).domains), ...CANARIES.flatMap((t) => t.domains)])];
const settings = { timeoutMs: 800, listenWindowMs: 150 };

/** A selector's address: REAL stands for the domain's real lab address. */
function ip(selector: string, domain: string | null): string {
  return selector === REAL && domain !== null ? addressOf(domain, universe) : selector;
}

/** Which kind of resolver asked: getaddrinfo, the system's resolver directly, a configured UDP resolver, DoH. */
function resolverOf(q: DnsQueryObservation): string {
  if (q.resolver.startsWith('system#')) return 'system-direct';
  return q.kind;
}

function observed(evidence: Evidence, e: ObservationExpectation): unknown[] {
  switch (e.layer) {
    case 'dns':
      return evidence.dns
        .filter((d) => d.domain === e.domain)
        .flatMap((d) => d.queries)
        .filter((q) => (e.resolver === undefined || resolverOf(q) === e.resolver) && (e.qtype === undefined || q.qtype === e.qtype));
    case 'tcp':
      return evidence.tcp.filter(
        (t) => (e.domain === undefined || t.domain === e.domain) && (e.ip === undefined || t.ip === ip(e.ip, t.domain)) && (e.port === undefined || t.port === e.port),
      );
    case 'tls':
      return evidence.tls.filter(
        (t) => (e.domain === undefined || t.domain === e.domain) && (e.ip === undefined || t.ip === ip(e.ip, t.domain)) && (e.port === undefined || t.port === e.port),
      );
    case 'http':
      return evidence.http.filter((h) => (e.domain === undefined || h.domain === e.domain) && (e.port === undefined || h.port === e.port));
    case 'bulk':
      return (evidence.bulk ?? []).filter((b) => e.domain === undefined || b.domain === e.domain);
  }
}

let lab: Lab;
beforeAll(async () => {
  lab = await startLab(universe);
});
afterAll(async () => {
  await lab?.close();
});

for (const [family, cases] of Object.entries(FAMILIES)) {
  const loopback = casesOf('loopback', cases);
  if (loopback.length === 0) continue;
  describe(`catalogue: loopback: ${family}`, () => {
    for (const c of loopback) {
      const name = title(c, c.loopback.about);
      const expected = c.loopback.expect ?? {};
      const scenario: ScenarioCase = {
        name,
        target: c.loopback.target,
        censor: c.loopback.censor,
        expect: { verdict: c.verdict, ...expected },
      };
      it(name, async () => {
        const world = await buildWorld(lab, scenario, { ...settings, ...(c.loopback.timeoutMs !== undefined ? { timeoutMs: c.loopback.timeoutMs } : {}) });
        try {
          const measurements = await runTargets(world.targets, world.options, world.deps);
          const m = measurements.find((x) => x.target.id === scenario.target.id)!;
          const context = `${name}: ${JSON.stringify(m.verdict)}`;
          expect(m.verdict.verdict, context).toBe(c.verdict);
          if (expected.layer !== undefined) expect(m.verdict.layer, context).toBe(expected.layer);
          if (expected.scope !== undefined) expect(m.verdict.scope, context).toBe(expected.scope);
          if (expected.minConfidence !== undefined) expect(m.verdict.confidence, context).toBeGreaterThanOrEqual(expected.minConfidence);
          for (const re of expected.reason ?? []) expect(m.verdict.reason, context).toMatch(re);
          for (const e of expected.observations ?? []) {
            const found = observed(m.evidence, e);
            expect(found.length, `${name}: no ${e.layer} observation matches ${JSON.stringify(e)}`).toBeGreaterThan(0);
            for (const o of found) expect(o, `${name}: ${e.layer}`).toMatchObject(e.has);
          }
          // The canaries ran too; unless the whole network is down they are fine and change nothing.
          for (const canary of measurements.filter((x) => x.target.category === 'canary')) {
            expect(canary.verdict.verdict).toBe(scenario.censor.shutdown ? 'offline' : 'ok');
          }
        } finally {
          await world.close();
        }
      });
    }
  });
}
