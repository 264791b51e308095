// HTTP censorship scenarios: block pages and answers that differ from what the real site sends.
import type { ScenarioCase } from '../loopback/scenario.js';

export const httpCases: ScenarioCase[] = [
  {
    name: 'plain-HTTP request answered with the ISP block page',
    target: { id: 'azattyq-http', domains: ['www.azattyq.org'], ports: [80], tls_ports: [], http: { path: '/', status: [200] } },
    censor: { http: { 'www.azattyq.org': 'blockpage' } },
    expect: {
      verdict: 'http.blockpage',
      layer: 'http',
      observations: [{ layer: 'http', domain: 'www.azattyq.org', has: { status: 200, title: 'Доступ к ресурсу ограничен' } }],
    },
  },
  {
    name: 'the site answers a status it never sends',
    target: { id: 'psiphon', domains: ['psiphon.ca'] },
    censor: { http: { 'psiphon.ca': { status: 404 } } },
    expect: {
      verdict: 'http.diff',
      layer: 'http',
      observations: [{ layer: 'http', domain: 'psiphon.ca', has: { status: 404 } }],
    },
  },
  {
    name: 'garbage instead of HTTP on port 80',
    target: { id: 'kaspi-http', domains: ['kaspi.kz'], ports: [80], tls_ports: [], http: { path: '/', status: [200] } },
    censor: { http: { 'kaspi.kz': 'garbage' } },
    expect: {
      verdict: 'http.diff',
      layer: 'http',
      observations: [{ layer: 'http', domain: 'kaspi.kz', has: { failure: 'http_invalid_response' } }],
    },
  },
];
