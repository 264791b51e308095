// Golden fixtures: each <name>.evidence.json (target, evidence, optional control) must classify to <name>.decision.json.
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { classify } from '../probe/classify/classify.js';
import type { Evidence } from '../contract/evidence.js';
import { isFailure, OPERATIONS } from '../contract/failure.js';
import { CATEGORIES, type Target } from '../contract/target.js';
import { LAYERS, VERDICTS, type Decision } from '../contract/verdict.js';
import { deepFreeze } from './classify-builders.js';

const DIR = new URL('./fixtures/classify/', import.meta.url);

interface Fixture {
  target: Target;
  evidence: Evidence;
  control?: Evidence;
}

const names = readdirSync(DIR)
  .filter((f) => f.endsWith('.evidence.json'))
  .map((f) => f.slice(0, -'.evidence.json'.length))
  .sort();

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

describe('classify: golden fixtures', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('has at least 8 evidence/decision pairs', () => {
    expect(names.length).toBeGreaterThanOrEqual(8);
    const decisions = readdirSync(DIR).filter((f) => f.endsWith('.decision.json'));
    expect(decisions.map((f) => f.slice(0, -'.decision.json'.length)).sort()).toEqual(names);
  });

  it.each(names)('%s', (name) => {
    const fx = load<Fixture>(`${name}.evidence.json`);
    const expected = load<Decision>(`${name}.decision.json`);
    expect(CATEGORIES).toContain(fx.target.category);
    checkShape(fx.evidence, `${name}.evidence`);
    if (fx.control !== undefined) checkShape(fx.control, `${name}.control`);
    expect(VERDICTS).toContain(expected.verdict);
    expect(expected.layer === null || LAYERS.includes(expected.layer)).toBe(true);

    // Pure: no clock is read, and the inputs are not modified (frozen: a write would throw).
    const now = vi.spyOn(Date, 'now');
    const perf = vi.spyOn(performance, 'now');
    const decision = classify(deepFreeze(fx.target), deepFreeze(fx.evidence), fx.control === undefined ? {} : { control: deepFreeze(fx.control) });
    expect(now).not.toHaveBeenCalled();
    expect(perf).not.toHaveBeenCalled();
    expect(decision).toEqual(expected);
  });

  it('gives the same decision for the same evidence every time (no hidden state)', () => {
    for (const name of names) {
      const fx = load<Fixture>(`${name}.evidence.json`);
      const opts = fx.control === undefined ? {} : { control: fx.control };
      expect(classify(fx.target, fx.evidence, opts)).toEqual(classify(structuredClone(fx.target), structuredClone(fx.evidence), opts));
    }
  });
});
