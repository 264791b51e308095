// Shutdown cases: the whole network is gone (offline), decided over a run by the canaries, not per target.
import { expect } from 'vitest';
import type { Evidence } from '../../contract/evidence.js';
import type { Target } from '../../contract/target.js';
import { DOH, SYSTEM, change, dnsFailure, emptyEvidence, healthy, target, tlsBlocked, withDns } from '../classify-builders.js';
import type { CatalogueCase } from './case.js';
import { canaryRun, facebook, fbTcp, fbTls, youtube } from './targets.js';

const domesticCanary = target({ id: 'canary-kz', category: 'canary', canary: 'domestic', domains: ['www.gov.kz'], http: null });
const internationalCanary = target({ id: 'canary-intl', category: 'canary', canary: 'international', domains: ['www.wikipedia.org'], http: null });

const run = canaryRun;

const dead = (t: Target): Evidence =>
  withDns(emptyEvidence(), t.domains[0] as string, dnsFailure(t.domains[0] as string, SYSTEM, 'generic_timeout_error'), dnsFailure(t.domains[0] as string, DOH, 'generic_timeout_error'));
const tcpDead = (t: Target): Evidence => change(healthy(t), 'tcp', () => true, (o) => ({ ...o, failure: 'generic_timeout_error' }));

export const shutdownCases: CatalogueCase[] = [
  {
    name: 'shutdown',
    verdict: 'offline',
    evidence: {
      about: 'every canary failed: every verdict becomes offline, the reason keeps the finding',
      runs: [run(facebook, fbTcp((t) => ({ ...t, failure: 'generic_timeout_error' }))), run(domesticCanary, dead(domesticCanary)), run(internationalCanary, tcpDead(internationalCanary))],
      verdicts: ['offline', 'offline', 'offline'],
      reason: [
        /every canary failed \(canary-kz \(domestic\): dns generic_timeout_error; canary-intl \(international\): tcp generic_timeout_error\)/,
        /own finding was tcp\.timeout|own finding was dns\.timeout/,
      ],
    },
    loopback: {
      about: 'total shutdown: nothing answers, canaries included',
      target: { id: 'youtube-shutdown', domains: ['youtube.com'] },
      censor: { shutdown: true },
    },
    lab: {
      summary: 'total shutdown: the ISP withdraws its route to the internet',
      mechanism: 'ip route replace unreachable 192.88.99.0/24 on the censor',
      apply: (c) => c.shutdown(),
      blocked: {},
      all: { verdict: 'offline', layer: null },
      daemon: 'spool',
      check(r) {
        for (const m of r.measurements) {
          expect(m.evidence.tcp.every((t) => t.failure !== null), m.target.id).toBe(true);
          expect(m.verdict.reason).toContain('every canary failed');
        }
      },
    },
  },
  {
    name: 'international-cut',
    verdict: 'offline',
    evidence: {
      about: 'every international canary failed while the domestic one answered: offline',
      runs: [run(facebook, healthy(facebook)), run(domesticCanary, healthy(domesticCanary)), run(internationalCanary, tcpDead(internationalCanary))],
      verdicts: ['offline', 'offline', 'offline'],
      reason: [/every international canary failed while a domestic one answered/],
    },
  },
  {
    name: 'canaries-fine',
    verdict: 'tcp.reset',
    evidence: {
      about: 'canaries fine: nothing changes',
      runs: [run(facebook, fbTcp((t) => ({ ...t, failure: 'connection_reset' }))), run(domesticCanary, healthy(domesticCanary)), run(internationalCanary, healthy(internationalCanary))],
      verdicts: ['tcp.reset', 'ok', 'ok'],
    },
  },
  {
    name: 'domestic-canary-failed',
    verdict: 'ok',
    evidence: {
      about: 'only the domestic canary failed: nothing changes',
      runs: [run(facebook, healthy(facebook)), run(domesticCanary, tcpDead(domesticCanary)), run(internationalCanary, healthy(internationalCanary))],
      verdicts: ['ok', 'tcp.timeout', 'ok'],
    },
  },
  {
    name: 'no-canary-in-run',
    verdict: 'tls.reset',
    evidence: {
      about: 'no canary in the run: nothing changes',
      runs: [run(facebook, fbTls((t) => tlsBlocked(t.domain, t.ip, t.port, 'connection_reset', 'ok'))), run(youtube, healthy(youtube))],
      verdicts: ['tls.reset', 'ok'],
    },
  },
];
