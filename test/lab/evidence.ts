// Per lab scenario, what the evidence must show besides the verdicts: that the censor's mechanism really acted on the wire.
import { expect } from 'vitest';
import type { Measurement } from '../../contract/measurement.js';
import type { ProbeRun } from './lab.js';
import { NATIONAL_ROOT_CN } from './pki.js';
import { BOGON_ADDRESS, HONEST_RESOLVER, HONEST_RESOLVER_DELAY_MS, INJECTED_ADDRESS, NEUTRAL_SNI, labTarget } from './topology.js';

function byTarget(r: ProbeRun): Map<string, Measurement> {
  return new Map(r.measurements.map((m) => [m.target.id, m]));
}

function get(r: ProbeRun, id: string): Measurement {
  const m = byTarget(r).get(id);
  if (m === undefined) throw new Error(`no measurement for ${id}; stderr:\n${r.stderr}`);
  return m;
}

const resolverName = `udp:${HONEST_RESOLVER}:53`;

/**
 * Per scenario, what the evidence must show besides the verdicts: that the censor's mechanism
 * really acted on the wire the way the scenario says (and nothing else did).
 */
export const EVIDENCE: Record<string, (r: ProbeRun) => void> = {
  clean(r) {
    for (const m of r.measurements) {
      for (const t of m.evidence.tls) {
        expect(t.failure, `${m.target.id} ${t.sni}`).toBeNull();
        expect(t.trusted, `${m.target.id} ${t.sni}`).toBe(true);
      }
      for (const h of m.evidence.http) expect(h.status, h.url).toBe(200);
    }
    // The plain-HTTP target got its own page, not a block page.
    expect(get(r, 'azattyq').evidence.http[0]?.title).toBe(labTarget('azattyq').name);
  },
  'dns-nxdomain'(r) {
    for (const d of get(r, 'youtube').evidence.dns) {
      const system = d.queries.find((q) => q.resolver === 'system');
      const honest = d.queries.find((q) => q.resolver === resolverName);
      expect(system?.failure, d.domain).toBe('dns_nxdomain_error');
      expect(honest?.addresses, d.domain).toEqual([labTarget('youtube').ip]);
    }
  },
  'dns-bogon'(r) {
    const m = get(r, 'facebook');
    for (const d of m.evidence.dns) {
      expect(d.queries.find((q) => q.resolver === 'system')?.addresses, d.domain).toEqual([BOGON_ADDRESS]);
    }
    // The bogon is never dialled; the honest answer is, and works.
    expect(m.evidence.tcp.map((t) => t.ip)).not.toContain(BOGON_ADDRESS);
    expect(m.evidence.tcp.some((t) => t.ip === labTarget('facebook').ip && t.failure === null)).toBe(true);
  },
  'dns-injection'(r) {
    const m = get(r, 'twitter');
    for (const d of m.evidence.dns) {
      const honest = d.queries.find((q) => q.resolver === resolverName);
      // One query, two answers: the forged one first, the real one later from the same address.
      expect(honest?.addresses, d.domain).toEqual([INJECTED_ADDRESS]);
      expect(honest?.late.map((l) => l.addresses), d.domain).toEqual([[labTarget('twitter').ip]]);
      expect(honest?.late[0]?.after_ms ?? 0, d.domain).toBeGreaterThanOrEqual(HONEST_RESOLVER_DELAY_MS * 0.9);
      // The ISP resolver forwarded the query and believed the injector too.
      expect(d.queries.find((q) => q.resolver === 'system')?.addresses, d.domain).toEqual([INJECTED_ADDRESS]);
    }
    // Names that are not poisoned get one answer only.
    for (const d of get(r, 'youtube').evidence.dns) for (const q of d.queries) expect(q.late, d.domain).toEqual([]);
  },
  'tcp-reset'(r) {
    const tcp = get(r, 'instagram').evidence.tcp;
    expect(tcp.length).toBeGreaterThan(0);
    // The SYN passed (a refused connect would say connection_refused); the reset lands as the
    // connection completes or right after it, both recorded at the connect step.
    for (const t of tcp) {
      expect(t.failure).toBe('connection_reset');
      expect(t.operation).toBe('connect');
    }
  },
  'tcp-refused'(r) {
    for (const t of get(r, 'instagram').evidence.tcp) expect(t.failure).toBe('connection_refused');
  },
  blackhole(r) {
    for (const id of ['telegram', 'telegram-dc']) {
      const tcp = get(r, id).evidence.tcp;
      expect(tcp.length).toBeGreaterThan(0);
      for (const t of tcp) expect(t.failure, `${id} ${t.ip}:${t.port}`).toBe('generic_timeout_error');
    }
  },
  'sni-filter'(r) {
    const tls = get(r, 'facebook').evidence.tls;
    expect(tls.length).toBe(2);
    for (const t of tls) {
      expect(t.failure, t.sni ?? '').toBe('connection_reset');
      expect(t.ip).toBe(labTarget('facebook').ip);
      // Same address, another SNI: fine.
      expect(t.neutral?.sni).toBe(NEUTRAL_SNI);
      expect(t.neutral?.failure).toBeNull();
    }
  },
  'tls-interception'(r) {
    for (const t of get(r, 'youtube').evidence.tls) {
      expect(t.failure, t.sni ?? '').toBeNull();
      expect(t.trusted).toBe(false);
      expect(t.chain[0]?.issuer).toContain(NATIONAL_ROOT_CN);
      // sslsplit copies the real names into the forged leaf: only the issuer gives it away.
      expect(t.chain[0]?.san).toContain(t.sni);
    }
    // No fetch is made over an untrusted handshake.
    expect(get(r, 'youtube').evidence.http).toEqual([]);
    for (const t of get(r, 'facebook').evidence.tls) expect(t.chain[0]?.issuer).not.toContain(NATIONAL_ROOT_CN);
  },
  'http-blockpage'(r) {
    const http = get(r, 'azattyq').evidence.http;
    expect(http.length).toBe(2);
    for (const h of http) {
      expect(h.status).toBe(200);
      expect(h.title).toBe('Доступ к ресурсу ограничен');
      // The probe dialled the target's own address: the censor answered in its place.
      expect(h.ip).toBe(labTarget('azattyq').ip);
    }
  },
  throttling(r) {
    const m = get(r, 'twitter');
    // Handshakes are small enough to pass the shaper within the step timeout...
    for (const t of m.evidence.tls) {
      expect(t.failure, t.sni ?? '').toBeNull();
      expect(t.trusted).toBe(true);
    }
    // ...the 256 KiB page is not: the request times out after a good handshake.
    expect(m.evidence.http.length).toBeGreaterThan(0);
    for (const h of m.evidence.http) {
      expect(h.failure, h.url).toBe('generic_timeout_error');
      expect(['http_request', 'http_body']).toContain(h.operation);
    }
    // Only Twitter is shaped (its page arrives in the clean scenario); other targets download as usual.
    for (const h of get(r, 'youtube').evidence.http) expect(h.failure).toBeNull();
  },
  shutdown(r) {
    for (const m of r.measurements) {
      expect(m.evidence.tcp.every((t) => t.failure !== null), m.target.id).toBe(true);
      expect(m.verdict.reason).toContain('every canary failed');
    }
  },
};
