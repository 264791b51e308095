// The catalogue's pure tiers: every case's evidence (and control evidence) through the classifier, no network.
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { applyCanaries } from '../probe/classify/canary.js';
import { classify } from '../probe/classify/classify.js';
import type { Evidence } from '../contract/evidence.js';
import { isFailure, OPERATIONS } from '../contract/failure.js';
import { CATEGORIES, type Target } from '../contract/target.js';
import { LAYERS, VERDICTS, type Decision, type Verdict } from '../contract/verdict.js';
import { isCanary, isGolden, type BuiltEvidence, type CanaryEvidence, type GoldenEvidence } from './catalogue/case.js';
import { CATALOGUE, FAMILIES, casesOf, title } from './catalogue/index.js';
import { deepFreeze } from './classify-builders.js';

const DIR = new URL('./fixtures/classify/', import.meta.url);

interface Fixture {
  target: Target;
  evidence: Evidence;
  control?: Evidence;
}

function load<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as T;
}

/** Fails on a fixture that does not have the shape of real evidence, so a typo cannot pass silently. */
function checkShape(e: Evidence, where: string): void {
  const failureFields = (o: { failure: unknown; operation: unknown; error: unknown }, at: string): void => {
    expect(o.failure === null || isFailure(o.failure), `${at}: failure ${String(o.failure)}`).toBe(true);
    expect(o.operation === null || (OPERATIONS as readonly unknown[]).includes(o.operation), `${at}: operation`).toBe(true);
    if (o.failure !== null) expect(o.operation, `${at}: a failure names its operation`).not.toBeNull();
  };
  expect(Object.keys(e).sort(), where).toEqual(['dns', 'http', 'tcp', 'tls']);
  for (const o of e.dns) {
    for (const q of o.queries) {
      const at = `${where} dns ${q.domain} ${q.qtype} ${q.resolver}`;
      expect(Object.keys(q).sort(), at).toEqual(
        ['addresses', 'bogons', 'domain', 'error', 'failure', 'kind', 'late', 'operation', 'qtype', 'rcode', 'resolver', 'rtt_ms', 'ttl'].sort(),
      );
      expect(['system', 'udp', 'doh'], at).toContain(q.kind);
      failureFields(q, at);
    }
  }
  for (const t of e.tcp) {
    expect(Object.keys(t).sort()).toEqual(['domain', 'error', 'failure', 'ip', 'operation', 'port', 'rtt_ms']);
    failureFields(t, `${where} tcp ${t.ip}:${t.port}`);
  }
  for (const t of e.tls) {
    const at = `${where} tls ${t.ip}:${t.port}`;
    expect(Object.keys(t).sort(), at).toEqual(
      ['alpn', 'chain', 'cipher', 'domain', 'error', 'failure', 'hostname_ok', 'ip', 'neutral', 'operation', 'port', 'rtt_ms', 'sni', 'trusted', 'validation_error', 'version'].sort(),
    );
    failureFields(t, at);
    if (t.neutral !== null) failureFields(t.neutral, `${at} neutral`);
    for (const c of t.chain) expect(Object.keys(c).sort(), at).toEqual(['fingerprint256', 'issuer', 'san', 'serial', 'spki_sha256', 'subject', 'valid_from', 'valid_to']);
  }
  for (const h of e.http) {
    const at = `${where} http ${h.url}`;
    expect(Object.keys(h).sort(), at).toEqual(
      ['body_head', 'body_length', 'body_sha256', 'domain', 'error', 'failure', 'headers', 'ip', 'operation', 'port', 'rtt_ms', 'status', 'title', 'url'].sort(),
    );
    failureFields(h, at);
  }
}

/** Built evidence (with the control's when given) → the case's verdict and the decision's expected fields. */
function checkBuilt(verdict: Verdict, t: BuiltEvidence, controlEvidence?: Evidence): void {
  const evidence = deepFreeze(structuredClone(t.evidence));
  const control = controlEvidence === undefined ? undefined : deepFreeze(structuredClone(controlEvidence));
  const d = classify(deepFreeze(structuredClone(t.target)), evidence, control === undefined ? {} : { control });
  const e = t.expect ?? {};
  expect(d.verdict).toBe(verdict);
  if (e.layer !== undefined) expect(d.layer).toBe(e.layer);
  if (e.confidence !== undefined) expect(d.confidence).toBeCloseTo(e.confidence, 5);
  if (e.subjects !== undefined) expect(d.subjects).toEqual(e.subjects);
  for (const re of e.reason ?? []) expect(d.reason).toMatch(re);
  if (e.scope !== undefined || e.working !== undefined) {
    expect(d.scope).toBe(e.scope);
    if (e.working !== undefined) expect(d.working).toEqual(e.working);
  }
  expect(d.confidence).toBeGreaterThan(0);
  expect(d.confidence).toBeLessThanOrEqual(1);
  expect(d.reason.length).toBeGreaterThan(10);
  if (d.verdict === 'ok' || d.verdict === 'inconclusive') expect(d.layer).toBeNull();
  else expect(d.layer).not.toBeNull();
}

/** A golden pair: well-formed evidence, a pure classification (no clock, inputs untouched), exactly the stored decision. */
function checkGolden(verdict: Verdict, t: GoldenEvidence, withControl: boolean): void {
  const fx = load<Fixture>(`${t.fixture}.evidence.json`);
  const expected = load<Decision>(`${t.fixture}.decision.json`);
  expect(fx.control !== undefined, `${t.fixture}: control evidence in the fixture`).toBe(withControl);
  expect(CATEGORIES).toContain(fx.target.category);
  checkShape(fx.evidence, `${t.fixture}.evidence`);
  if (fx.control !== undefined) checkShape(fx.control, `${t.fixture}.control`);
  expect(VERDICTS).toContain(expected.verdict);
  expect(expected.layer === null || LAYERS.includes(expected.layer)).toBe(true);
  expect(expected.verdict, `${t.fixture}.decision.json is the case's verdict`).toBe(verdict);

  // Pure: no clock is read, and the inputs are not modified (frozen: a write would throw).
  const now = vi.spyOn(Date, 'now');
  const perf = vi.spyOn(performance, 'now');
  const decision = classify(deepFreeze(fx.target), deepFreeze(fx.evidence), fx.control === undefined ? {} : { control: deepFreeze(fx.control) });
  expect(now).not.toHaveBeenCalled();
  expect(perf).not.toHaveBeenCalled();
  expect(decision).toEqual(expected);
}

/** The run-level canary rule: the verdicts after it, and an offline decision keeps the target's own reason and subjects. */
function checkCanaries(verdict: Verdict, t: CanaryEvidence): void {
  expect(t.verdicts[0], "the case's verdict is the first run's").toBe(verdict);
  const out = applyCanaries(deepFreeze(t.runs));
  expect(out.map((d) => d.verdict)).toEqual(t.verdicts);
  out.forEach((d, i) => {
    const original = t.runs[i]?.decision as Decision;
    if (d.verdict === 'offline') {
      expect(d.layer).toBeNull();
      expect(d.reason).toContain(original.reason);
      expect(d.subjects).toEqual(original.subjects);
      for (const re of t.reason ?? []) expect(d.reason).toMatch(re);
    } else {
      expect(d).toEqual(original);
    }
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('catalogue: pure evidence', () => {
  for (const [family, all] of Object.entries(FAMILIES)) {
    const cases = casesOf('evidence', all);
    if (cases.length === 0) continue;
    describe(family, () => {
      it.each(cases.map((c) => [title(c, isGolden(c.evidence) ? c.evidence.fixture : c.evidence.about), c] as const))('%s', (_title, c) => {
        const t = c.evidence;
        if (isGolden(t)) checkGolden(c.verdict, t, false);
        else if (isCanary(t)) checkCanaries(c.verdict, t);
        else checkBuilt(c.verdict, t);
      });
    });
  }
});

describe('catalogue: with control', () => {
  for (const [family, all] of Object.entries(FAMILIES)) {
    const cases = casesOf('control', all);
    if (cases.length === 0) continue;
    describe(family, () => {
      it.each(cases.map((c) => [title(c, isGolden(c.control) ? c.control.fixture : c.control.about), c] as const))('%s', (_title, c) => {
        const t = c.control;
        if (isGolden(t)) checkGolden(c.verdict, t, true);
        else checkBuilt(c.verdict, t, t.control);
      });
    });
  }
});

describe('catalogue: golden fixtures', () => {
  const onDisk = readdirSync(DIR)
    .filter((f) => f.endsWith('.evidence.json'))
    .map((f) => f.slice(0, -'.evidence.json'.length))
    .sort();
  const referenced = CATALOGUE.flatMap((c) => [c.evidence, c.control]).flatMap((t) => (t !== undefined && isGolden(t) ? [t.fixture] : []));

  it('has at least 8 evidence/decision pairs', () => {
    expect(onDisk.length).toBeGreaterThanOrEqual(8);
    const decisions = readdirSync(DIR).filter((f) => f.endsWith('.decision.json'));
    expect(decisions.map((f) => f.slice(0, -'.decision.json'.length)).sort()).toEqual(onDisk);
  });

  it('every pair on disk is a case of the catalogue, exactly once', () => {
    expect([...referenced].sort()).toEqual(onDisk);
  });

  it('gives the same decision for the same evidence every time (no hidden state)', () => {
    for (const name of onDisk) {
      const fx = load<Fixture>(`${name}.evidence.json`);
      const opts = fx.control === undefined ? {} : { control: fx.control };
      expect(classify(fx.target, fx.evidence, opts)).toEqual(classify(structuredClone(fx.target), structuredClone(fx.evidence), opts));
    }
  });
});
