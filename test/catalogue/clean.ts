// Cases without censorship: every layer works, the probe must say ok (and the lab's baseline).
import { expect } from 'vitest';
import { healthy } from '../classify-builders.js';
import { labTarget } from '../lab/topology.js';
import type { CatalogueCase } from './case.js';
import { measured } from './lab-run.js';
import { youtube } from './targets.js';

export const cleanCases: CatalogueCase[] = [
  {
    name: 'clean',
    verdict: 'ok',
    evidence: {
      about: 'every domain resolves, connects, validates and answers 200',
      target: youtube,
      evidence: healthy(youtube),
      expect: { layer: null, subjects: ['www.youtube.com', 'i.ytimg.com'], reason: [/dns → tcp → tls → http/] },
    },
    loopback: {
      about: 'every resolver agrees and the site answers',
      target: { id: 'youtube', domains: ['www.youtube.com'] },
      censor: {},
      expect: {
        observations: [
          { layer: 'dns', domain: 'www.youtube.com', resolver: 'system', qtype: 'A', has: { failure: null, rcode: 'NOERROR' } },
          { layer: 'http', domain: 'www.youtube.com', has: { status: 200, title: 'www.youtube.com', failure: null } },
        ],
      },
    },
    lab: {
      summary: 'no censorship: every target reachable',
      mechanism: 'the censor routes and resolves honestly',
      apply: async () => {},
      blocked: {},
      check(r) {
        for (const m of r.measurements) {
          for (const t of m.evidence.tls) {
            expect(t.failure, `${m.target.id} ${t.sni}`).toBeNull();
            expect(t.trusted, `${m.target.id} ${t.sni}`).toBe(true);
          }
          for (const h of m.evidence.http) expect(h.status, h.url).toBe(200);
        }
        // The plain-HTTP target got its own page, not a block page.
        expect(measured(r, 'azattyq').evidence.http[0]?.title).toBe(labTarget('azattyq').name);
      },
    },
  },
  {
    name: 'youtube-ok',
    verdict: 'ok',
    evidence: { fixture: 'youtube-ok' },
  },
];
