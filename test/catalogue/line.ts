// The volunteer's own line walled off (captive portals, a mobile line out of credit): offline, saying why, never a block.
import { expect } from 'vitest';
import type { Evidence } from '../../contract/evidence.js';
import type { Target } from '../../contract/target.js';
import { change, healthy, target } from '../classify-builders.js';
import type { CatalogueCase, LabTier } from './case.js';
import { canaryRun } from './targets.js';
import { CLIENT_IP, PORTAL_HOST } from '../lab/topology.js';
import type { PortalVariant } from '../lab/censor.js';
import type { ProbeRun } from '../lab/lab.js';

const web = (id: string, domain: string, extra: Partial<Target> = {}) => target({ id, domains: [domain], ports: [80, 443], ...extra });
const instagram = web('instagram', 'www.instagram.com');
const domesticCanary = web('canary-kz', 'egov.kz', { category: 'canary', canary: 'domestic' });
const internationalCanary = web('canary-intl', 'www.wikipedia.org', { category: 'canary', canary: 'international' });

const run = canaryRun;

/** HTTPS refused, plain HTTP answered (by the portal): every connect to 80 works, every one to 443 is reset. */
const walled = (t: Target): Evidence => change(healthy(t), 'tcp', (o) => o.port === 443, (o) => ({ ...o, failure: 'connection_refused' }));

/** What every portal case checks in the lab: offline with the portal's sign, and the client's address nowhere. */
function portalCheck(sign: RegExp) {
  return (r: ProbeRun): void => {
    for (const m of r.measurements) {
      expect(m.verdict.reason, m.target.id).toMatch(/behind a captive portal or an operator's wall/);
      expect(m.evidence.line?.portal ?? '', m.target.id).toMatch(sign);
    }
    expect(r.stderr, 'the terminal says so').toMatch(/line: behind a captive portal/);
    expect(JSON.stringify(r.measurements), "the client's address (echoed in the portal's redirect) is nowhere in the evidence").not.toContain(CLIENT_IP);
  };
}

function portalLab(variant: PortalVariant, summary: string, mechanism: string, sign: RegExp, daemon: LabTier['daemon'] = 'skip'): LabTier {
  return {
    summary,
    mechanism,
    apply: (c) => c.portal(variant),
    blocked: {},
    all: { verdict: 'offline', layer: null },
    runs: 3,
    daemon,
    check: portalCheck(sign),
  };
}

const redirected = new RegExp(`plain HTTP to \\S+ was redirected to ${PORTAL_HOST.replace(/\./g, '\\.')}`);

export const lineCases: CatalogueCase[] = [
  {
    name: 'portal-refused',
    verdict: 'offline',
    evidence: {
      about: 'HTTPS refused everywhere, plain HTTP answered: the canaries fail like the targets, so the run is offline, not tcp.refused',
      runs: [run(instagram, walled(instagram)), run(domesticCanary, walled(domesticCanary)), run(internationalCanary, walled(internationalCanary))],
      verdicts: ['offline', 'offline', 'offline'],
      reason: [/every canary failed/, /own finding was tcp\.refused/],
    },
    lab: portalLab(
      'refused',
      'a captive portal: HTTPS refused, plain HTTP redirected to its login page',
      `the router DNATs every port-80 connection to a login redirect (to ${PORTAL_HOST}, naming the client's address) and resets every SYN to 443`,
      redirected,
      'spool',
    ),
  },
  {
    name: 'portal-dropped',
    verdict: 'offline',
    lab: portalLab(
      'dropped',
      'a captive portal: HTTPS dropped, plain HTTP redirected to its login page',
      'the router DNATs every port-80 connection to a login redirect and drops everything to 443',
      redirected,
    ),
  },
  {
    name: 'portal-dns',
    verdict: 'offline',
    lab: portalLab(
      'dns',
      "an operator's wall: every name resolves to the portal's private address",
      "the router's resolver answers every name with its own address (dnsmasq address=/#/), every DNS query is DNATed to it, nothing else is forwarded",
      /every canary name \(\d+\) resolved to one and the same private address/,
    ),
  },
  {
    name: 'portal-login',
    verdict: 'offline',
    lab: portalLab(
      'login',
      'a captive portal that catches HTTPS too, with its own self-signed certificate',
      "the router DNATs port 80 to the login redirect and port 443 to the portal's TLS server (a self-signed certificate for every name)",
      new RegExp(`${redirected.source}|presented one and the same untrusted certificate`),
    ),
  },
];
