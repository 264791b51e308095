// The shipped targets.yaml (loads, lists every promised service, round-trips) and the target defaults.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatTargets, loadTargets, packagedTargetsPath, parseTargets } from '../contract/target-list.js';
import { CATEGORIES, type Category, type Target } from '../contract/target.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/config/${name}`, import.meta.url));

let targets: Target[];
beforeAll(async () => {
  targets = await loadTargets(packagedTargetsPath());
});

function owner(domain: string): Target[] {
  return targets.filter((t) => t.domains.includes(domain));
}

const WHATSAPP_CHAT = Array.from({ length: 16 }, (_, i) => `e${i + 1}.whatsapp.net`);

/** Every domain the project promises to measure, with the category it belongs to. */
const REQUIRED_DOMAINS: Array<[string, Category]> = [
  ['www.youtube.com', 'video'],
  ['youtube.com', 'video'],
  ['i.ytimg.com', 'video'],
  ['redirector.googlevideo.com', 'video'],
  ['www.tiktok.com', 'video'],
  ['facebook.com', 'social'],
  ['www.facebook.com', 'social'],
  ['static.xx.fbcdn.net', 'social'],
  ['www.instagram.com', 'social'],
  ['scontent.cdninstagram.com', 'social'],
  ['twitter.com', 'social'],
  ['x.com', 'social'],
  ['abs.twimg.com', 'social'],
  ['vk.com', 'social'],
  ['edge-mqtt.facebook.com', 'messenger'],
  ['b-api.facebook.com', 'messenger'],
  ['web.telegram.org', 'messenger'],
  ['telegram.org', 'messenger'],
  ['web.whatsapp.com', 'messenger'],
  ['v.whatsapp.net', 'messenger'],
  ...WHATSAPP_CHAT.map((d): [string, Category] => [d, 'messenger']),
  ['chat.signal.org', 'messenger'],
  ['storage.signal.org', 'messenger'],
  ['cdn.signal.org', 'messenger'],
  ['rus.azattyq.org', 'news'],
  ['vlast.kz', 'news'],
  ['currenttime.tv', 'news'],
  ['www.torproject.org', 'circumvention'],
  ['psiphon.ca', 'circumvention'],
  ['egov.kz', 'canary'],
  ['kaspi.kz', 'canary'],
  ['www.wikipedia.org', 'canary'],
  ['www.cloudflare.com', 'canary'],
];

const TELEGRAM_DCS = ['149.154.175.50', '149.154.167.51', '149.154.175.100', '149.154.167.91', '149.154.171.5'];

describe('the shipped targets.yaml', () => {
  it('is found beside the package and loads', () => {
    expect(packagedTargetsPath()).toMatch(/targets\.yaml$/);
    expect(targets.length).toBeGreaterThanOrEqual(20);
  });

  it.each(REQUIRED_DOMAINS)('measures %s in exactly one %s target', (domain, category) => {
    const found = owner(domain);
    expect(found.map((t) => t.category)).toEqual([category]);
  });

  it('never lists one domain or endpoint in two places', () => {
    const domains = targets.flatMap((t) => t.domains);
    expect(new Set(domains).size).toBe(domains.length);
    const ips = targets.flatMap((t) => t.endpoints.map((e) => e.ip));
    expect(new Set(ips).size).toBe(ips.length);
  });

  it.each(TELEGRAM_DCS)('connects to Telegram data centre %s on 443 and 80, without TLS', (ip) => {
    const found = targets.filter((t) => t.endpoints.some((e) => e.ip === ip));
    expect(found).toHaveLength(1);
    const [target] = found;
    expect(target?.category).toBe('messenger');
    expect([...(target?.endpoints.find((e) => e.ip === ip)?.ports ?? [])].sort((a, b) => a - b)).toEqual([80, 443]);
    // The data centres speak MTProto on both ports: a TLS handshake there would fail by design.
    expect(target?.tls_ports).toEqual([]);
  });

  it('connects to every WhatsApp chat server on 443 and 5222 without TLS', () => {
    for (const domain of WHATSAPP_CHAT) {
      const [target] = owner(domain);
      expect([...(target?.ports ?? [])].sort((a, b) => a - b)).toEqual([443, 5222]);
      expect(target?.tls_ports).toEqual([]);
    }
  });

  it('has domestic and international canaries, and canary fields only on canaries', () => {
    const canaries = targets.filter((t) => t.category === 'canary');
    expect(owner('egov.kz')[0]?.canary).toBe('domestic');
    expect(owner('kaspi.kz')[0]?.canary).toBe('domestic');
    expect(canaries.filter((t) => t.canary === 'international').length).toBeGreaterThanOrEqual(2);
    for (const t of targets) {
      if (t.category === 'canary') expect(['domestic', 'international']).toContain(t.canary);
      else expect('canary' in t).toBe(false);
    }
  });

  it('has a target in every category and is ordered by category', () => {
    const order = targets.map((t) => CATEGORIES.indexOf(t.category));
    expect(new Set(order).size).toBe(CATEGORIES.length);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  });

  it('expects the redirects the real sites send', () => {
    const youtube = owner('youtube.com')[0];
    expect(youtube?.http?.path).toBe('/');
    expect(youtube?.http?.status).toEqual(expect.arrayContaining([200, 301]));
    // Over plain HTTP on port 80 Wikipedia redirects to https.
    const wikipedia = owner('www.wikipedia.org')[0];
    expect(wikipedia?.http?.status).toEqual([200, 301]);
  });

  it('gives fully-defaulted targets whose TLS ports are ports connected to', () => {
    const keys = ['category', 'domains', 'endpoints', 'http', 'id', 'name', 'ports', 'tls_ports'];
    for (const t of targets) {
      const extra = [
        ...(t.category === 'canary' ? ['canary'] : []),
        ...(t.private_ca !== undefined ? ['private_ca'] : []),
        ...(t.bulk !== undefined ? ['bulk'] : []),
      ];
      expect(Object.keys(t).sort()).toEqual([...keys, ...extra].sort());
      expect(t.ports.length).toBeGreaterThan(0);
      const used = new Set([...t.ports, ...t.endpoints.flatMap((e) => e.ports)]);
      for (const p of t.tls_ports) expect(used.has(p)).toBe(true);
      for (const e of t.endpoints) expect(e.ports.length).toBeGreaterThan(0);
    }
    // Web services are measured over http on 80 and https on 443; without ports, 443 only, with TLS.
    const vk = targets.find((t) => t.id === 'vk');
    expect(vk).toMatchObject({ ports: [80, 443], tls_ports: [443], endpoints: [] });
    for (const t of targets.filter((x) => x.http !== null)) expect(t.ports, t.id).toEqual([80, 443]);
    const signal = targets.find((t) => t.id === 'signal');
    expect(signal).toMatchObject({ ports: [443], tls_ports: [443] });
    // Bulk resources (throttling) on a target's own domain, and on an international canary.
    expect(targets.filter((t) => t.bulk !== undefined).map((t) => t.id)).toEqual(['youtube-media', 'wikipedia']);
  });

  it('round-trips through formatTargets, and reads the same as JSON', async () => {
    const text = formatTargets(targets);
    const again = parseTargets(text, 'formatted.yaml');
    expect(again).toEqual(targets);
    expect(formatTargets(again)).toBe(text);
    const json = JSON.stringify({ version: 1, targets });
    expect(parseTargets(json, 'targets.json')).toEqual(targets);
    // And the loader reads what it was given, not a cached copy.
    const raw = await readFile(packagedTargetsPath(), 'utf8');
    expect(parseTargets(raw, 'targets.yaml')).toEqual(targets);
  });
});

describe('target defaults', () => {
  it('fills ports, tls_ports, endpoint ports and the http path', async () => {
    const loaded = await loadTargets(fixture('valid/targets-minimal.yaml'));
    expect(loaded).toEqual([
      {
        id: 'default-ports',
        name: 'Defaults everywhere',
        category: 'video',
        domains: ['www.youtube.com'],
        endpoints: [],
        ports: [443],
        tls_ports: [443],
        http: null,
      },
      {
        id: 'plain-http',
        name: 'Only port 80',
        category: 'news',
        domains: ['vlast.kz'],
        endpoints: [],
        ports: [80],
        tls_ports: [],
        http: { path: '/', status: [200, 301] },
      },
      {
        id: 'endpoints_only',
        name: 'Fixed addresses',
        category: 'messenger',
        domains: [],
        endpoints: [
          { ip: '149.154.167.51', ports: [443, 5222] },
          { ip: '2001:67c:4e8:f004::a', ports: [443] },
        ],
        ports: [443, 5222],
        tls_ports: [443],
        http: null,
      },
      {
        id: 'canary-1',
        name: 'A domestic canary',
        category: 'canary',
        canary: 'domestic',
        domains: ['kaspi.kz'],
        endpoints: [],
        ports: [443, 80],
        tls_ports: [443],
        http: { path: '/', status: [200, 301] },
      },
    ]);
  });

  it('shares no arrays between targets (an alias is read into separate objects)', async () => {
    const loaded = await loadTargets(fixture('valid/targets-minimal.yaml'));
    const [a, b, c, d] = loaded;
    expect(b?.http).toEqual(d?.http);
    expect(b?.http).not.toBe(d?.http);
    a?.ports.push(8443);
    c?.endpoints[0]?.ports.push(8443);
    expect(c?.ports).toEqual([443, 5222]);
    const fresh = await loadTargets(fixture('valid/targets-minimal.yaml'));
    expect(fresh[0]?.ports).toEqual([443]);
  });
});
