// Measurement validation: the vocabulary, types, time window, target and signer, each rejection naming its JSON path.
import { describe, expect, it } from 'vitest';
import { explainMeasurement, validateMeasurement, type ValidationContext } from '../collector/ingest/validate.js';
import type { Measurement } from '../contract/measurement.js';
import { makeMeasurement, T0, testTargets } from './fixtures/collector/helpers.js';

const PROBE = 'probe-0001';
const LINE = { connects: 40, slow_connects: 6, dns_answered: 30, dns_resent: 2, loss: 'some', portal: null };

async function ctx(): Promise<ValidationContext> {
  return { now: T0, maxAgeMs: 14 * 86_400_000, maxFutureMs: 600_000, targets: (await testTargets()).byId, signer: PROBE };
}

function edit(f: (m: any) => void): Measurement {
  const m = makeMeasurement({ probeId: PROBE, at: T0 - 1000, verdict: 'tls.reset' });
  f(m);
  return m;
}

describe('validateMeasurement', () => {
  it('accepts a complete measurement (with neutral-SNI evidence) and returns it', async () => {
    const m = edit(() => undefined);
    expect(validateMeasurement(m, await ctx())).toEqual({ ok: true, measurement: m });
  });

  it.each([
    ['unknown failure', (m: any) => (m.evidence.tcp[2].failure = 'boom'), 'unknown_failure', 'evidence.tcp[2].failure: unknown failure "boom"'],
    ['neutral failure', (m: any) => (m.evidence.tls[0].neutral.failure = 'reset'), 'unknown_failure', 'evidence.tls[0].neutral.failure: unknown failure "reset"'],
    ['unknown verdict', (m: any) => (m.verdict.verdict = 'blocked'), 'unknown_verdict', 'verdict.verdict: unknown verdict "blocked"'],
    ['schema version', (m: any) => (m.schema = 2), 'unsupported_schema', 'schema: unsupported schema 2 (this collector reads 1)'],
    ['not a ULID', (m: any) => (m.id = 'ULID-ish'), 'bad_id', 'id: not a ULID: "ULID-ish"'],
    ['wrong type', (m: any) => (m.evidence.dns[0].queries[0].ttl = '300'), 'schema', 'evidence.dns[0].queries[0].ttl: expected a number, got a string'],
    ['missing key', (m: any) => delete m.timing.tls, 'schema', 'timing.tls: missing'],
    ['unknown key', (m: any) => (m.probe.ip = '198.51.100.7'), 'schema', 'probe: unknown key "ip"'],
    ['bad address', (m: any) => (m.evidence.http[0].ip = 'localhost'), 'schema', 'evidence.http[0].ip: not an IP address: "localhost"'],
    ['header type', (m: any) => (m.evidence.http[0].headers['content-type'] = 5), 'schema', 'evidence.http[0].headers.content-type: expected a string, got a number'],
    ['too old', (m: any) => (m.started_at = new Date(T0 - 15 * 86_400_000).toISOString()), 'too_old', /^started_at: 2024-04-24T07:00:00.000Z is older than/],
    ['in the future', (m: any) => (m.started_at = new Date(T0 + 601_000).toISOString()), 'in_future', /^started_at: .* more than 600 s in the future$/],
    ['time format', (m: any) => (m.started_at = '09.05.2024 07:00'), 'schema', 'started_at: not an ISO 8601 UTC time: "09.05.2024 07:00"'],
    ['unknown target', (m: any) => (m.target.id = 'myspace'), 'unknown_target', 'target.id: unknown target "myspace"'],
    ['category', (m: any) => (m.target = { id: 'telegram', category: 'video' }), 'target_mismatch', 'target.category: "video" but target "telegram" is "messenger"'],
    ['signer', (m: any) => (m.probe.id = 'probe-0002'), 'probe_mismatch', 'probe.id: "probe-0002" is not the probe that signed the batch'],
    ['line loss', (m: any) => (m.evidence.line = { ...LINE, loss: 'extreme' }), 'schema', 'evidence.line.loss: unknown line loss "extreme"'],
    ['line count', (m: any) => (m.evidence.line = { ...LINE, slow_connects: -1 }), 'schema', /^evidence\.line\.slow_connects: /],
    ['nested first attempt', (m: any) => (m.evidence.first = { ...structuredClone(m.evidence), first: {} }), 'schema', 'evidence.first: unknown key "first"'],
    ['sends', (m: any) => (m.evidence.dns[0].queries[0].sends = 0), 'schema', /^evidence\.dns\[0\]\.queries\[0\]\.sends: /],
  ])('rejects %s', async (_name, change, code, reason) => {
    const m = edit(change);
    const v = validateMeasurement(m, await ctx());
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.code).toBe(code);
    if (typeof reason === 'string') expect(v.reason).toBe(reason);
    else expect(v.reason).toMatch(reason);
    expect(v.id).toBe(typeof m.id === 'string' && m.id.length <= 64 ? m.id : null);
  });

  it("accepts a re-measured target's evidence: the line quality, the first attempt, the sends of a query", async () => {
    const m = edit((x) => {
      x.evidence.first = { dns: x.evidence.dns, tcp: x.evidence.tcp, tls: x.evidence.tls, http: x.evidence.http };
      x.evidence.line = { ...LINE, portal: 'plain HTTP to egov.kz was redirected to login.wifi.test (HTTP 302)' };
      x.evidence.dns[0].queries[0].sends = 3;
    });
    expect(validateMeasurement(m, await ctx())).toEqual({ ok: true, measurement: m });
  });

  it('accepts the edges of the time window and every known failure and verdict', async () => {
    const c = await ctx();
    expect(validateMeasurement(edit((m) => (m.started_at = new Date(T0 - 14 * 86_400_000).toISOString())), c).ok).toBe(true);
    expect(validateMeasurement(edit((m) => (m.started_at = new Date(T0 + 600_000).toISOString())), c).ok).toBe(true);
    const { FAILURES } = await import('../contract/failure.js');
    const { VERDICTS } = await import('../contract/verdict.js');
    for (const f of FAILURES) expect(validateMeasurement(edit((m) => (m.evidence.tcp[0].failure = f)), c).ok).toBe(true);
    for (const v of VERDICTS) expect(validateMeasurement(edit((m) => (m.verdict.verdict = v)), c).ok).toBe(true);
  });

  it('rejects non-objects with a null id', async () => {
    for (const item of [null, 1, 'x', [], [makeMeasurement({ probeId: PROBE, at: T0 })]]) {
      const v = validateMeasurement(item, await ctx());
      expect(v).toMatchObject({ ok: false, id: null, code: 'schema' });
    }
  });

  it('decides as the path-naming check does for every field replaced, removed or added (the fast path agrees)', async () => {
    const c = await ctx();
    const base = edit(() => undefined);
    const replacements: unknown[] = [null, '', 'x', 'A'.repeat(70_000), 0, -1, 1.5, 70_000, Number.NaN, true, [], [1], {}, { a: 1 }];
    let cases = 0;
    let accepted = 0;
    const visit = (node: unknown, at: Array<string | number>): void => {
      const variants: Array<(m: any) => void> = [];
      const locate = (m: any) => at.slice(0, -1).reduce((o: any, k) => o[k], m);
      const last = at.at(-1);
      if (last !== undefined) {
        for (const r of replacements) variants.push((m) => (locate(m)[last] = structuredClone(r)));
        if (typeof last === 'string') variants.push((m) => delete locate(m)[last]);
      }
      if (node !== null && typeof node === 'object' && !Array.isArray(node)) variants.push((m) => (at.reduce((o: any, k) => o[k], m).extra = 1));
      for (const change of variants) {
        const m = structuredClone(base) as any;
        change(m);
        const v = validateMeasurement(m, c);
        const problem = explainMeasurement(m);
        cases++;
        if (problem === null) {
          // Structurally fine: any rejection is about time, target or signer, never the structure.
          if (!v.ok) expect(['too_old', 'in_future', 'unknown_target', 'target_mismatch', 'probe_mismatch']).toContain(v.code);
          else accepted++;
        } else {
          expect(v.ok).toBe(false);
          // (A wrong schema version is named before anything else.)
          if (!v.ok && v.code !== 'unsupported_schema') expect(v).toMatchObject({ code: problem.code, reason: problem.reason });
        }
      }
      if (node !== null && typeof node === 'object') {
        for (const [k, child] of Object.entries(node)) visit(child, [...at, Array.isArray(node) ? Number(k) : k]);
      }
    };
    visit(base, []);
    expect(cases).toBeGreaterThan(1500);
    expect(accepted).toBeGreaterThan(50); // e.g. a nullable field set to null, a string to another string
  });
});
