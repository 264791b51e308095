// Measures one target layer by layer (dns → tcp → tls → http) and returns its evidence and timing.
import { measureDns, type ResolverSpec } from '../measure/dns.js';
import { measureHttp } from '../measure/http.js';
import { measureTcp } from '../measure/tcp.js';
import { measureTls } from '../measure/tls.js';
import { isBogon } from '../bogon.js';
import type { Deps } from '../deps.js';
import type { DnsObservation, Evidence, HttpObservation, TcpObservation, TlsObservation } from '../evidence.js';
import type { Target } from '../target.js';
import type { EngineOptions } from './options.js';
import type { RunLimits } from './limits.js';

export interface TargetEvidence {
  evidence: Evidence;
  timing: { dns: number; tcp: number; tls: number; http: number };
}

/** Addresses worth connecting to for a domain: every answer (first and late), no bogons, bounded per family. */
export function addressesOf(dns: DnsObservation, maxPerFamily: number): string[] {
  const v4: string[] = [];
  const v6: string[] = [];
  const add = (ip: string) => {
    if (isBogon(ip)) return;
    const list = ip.includes(':') ? v6 : v4;
    if (!list.includes(ip) && list.length < maxPerFamily) list.push(ip);
  };
  for (const q of dns.queries) {
    for (const ip of q.addresses) add(ip);
    for (const late of q.late) for (const ip of late.addresses) add(ip);
  }
  return [...v4, ...v6];
}

function allResolvers(options: EngineOptions): ResolverSpec[] {
  const list = [...options.resolvers];
  if (options.controlDoh) list.push({ kind: 'doh', url: options.controlDoh });
  return list;
}

export async function measureTarget(
  target: Target,
  options: EngineOptions,
  deps: Deps,
  limits: RunLimits,
): Promise<TargetEvidence> {
  const { clock } = deps;
  const signal = options.signal;
  const step = { timeoutMs: options.timeoutMs, ...(signal ? { signal } : {}) };
  const timing = { dns: 0, tcp: 0, tls: 0, http: 0 };
  const checkAbort = () => {
    if (signal?.aborted) throw signal.reason;
  };

  // dns: every domain, every resolver, every query type.
  let t0 = clock.monotonic();
  const dns = await Promise.all(
    target.domains.map((domain) =>
      limits.run(null, () => {
        checkAbort();
        return measureDns(
          domain,
          { ...step, resolvers: allResolvers(options), qtypes: options.qtypes, listenWindowMs: options.listenWindowMs },
          deps,
        );
      }),
    ),
  );
  timing.dns = clock.monotonic() - t0;

  // tcp: each resolved address on each port, and each fixed endpoint on its ports.
  const connects: Array<{ ip: string; port: number; domain: string | null }> = [];
  for (const d of dns) {
    for (const ip of addressesOf(d, options.maxAddressesPerDomain)) {
      for (const port of target.ports) connects.push({ ip, port, domain: d.domain });
    }
  }
  for (const e of target.endpoints) for (const port of e.ports) connects.push({ ip: e.ip, port, domain: null });
  t0 = clock.monotonic();
  const tcp: TcpObservation[] = await Promise.all(
    connects.map((c) =>
      limits.run(c.ip, () => {
        checkAbort();
        return measureTcp(c, step, deps);
      }),
    ),
  );
  timing.tcp = clock.monotonic() - t0;

  // tls: the target SNI on every address whose TCP connect on a TLS port worked.
  t0 = clock.monotonic();
  const tlsPorts = new Set(target.tls_ports);
  const tls: TlsObservation[] = await Promise.all(
    tcp
      .filter((c) => c.failure === null && c.domain !== null && tlsPorts.has(c.port))
      .map((c) =>
        limits.runHandshake(c.ip, () => {
          checkAbort();
          return measureTls(
            { ip: c.ip, port: c.port, sni: c.domain, domain: c.domain },
            { ...step, trust: options.trust, neutralSni: options.neutralSni },
            deps,
          );
        }),
      ),
  );
  timing.tls = clock.monotonic() - t0;

  // http: one GET per domain over an address that got this far (no second resolution).
  t0 = clock.monotonic();
  const http: HttpObservation[] = [];
  const expect = target.http;
  if (expect) {
    const https = tlsPorts.has(443);
    const port = https ? 443 : 80;
    const jobs: Array<Promise<HttpObservation>> = [];
    for (const d of dns) {
      const ip = https
        ? tls.find((h) => h.domain === d.domain && h.port === 443 && h.failure === null && h.trusted === true)?.ip
        : tcp.find((c) => c.domain === d.domain && c.port === 80 && c.failure === null)?.ip;
      if (ip === undefined) continue;
      const url = `${https ? 'https' : 'http'}://${d.domain}${expect.path}`;
      jobs.push(
        limits.runHandshake(ip, () => {
          checkAbort();
          return measureHttp(
            { url, ip, port, domain: d.domain },
            { ...step, trust: options.trust, maxBodyBytes: options.maxBodyBytes },
            deps,
          );
        }),
      );
    }
    http.push(...(await Promise.all(jobs)));
  }
  timing.http = clock.monotonic() - t0;

  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    evidence: { dns, tcp, tls, http },
    timing: { dns: round(timing.dns), tcp: round(timing.tcp), tls: round(timing.tls), http: round(timing.http) },
  };
}
