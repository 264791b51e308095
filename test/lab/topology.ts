// The censored lab network as data: namespace names, links, addresses, and the targets its internet host serves.
import { InvalidArgumentError } from '../../common/errors.js';
import type { Category } from '../../contract/target.js';

/** Every namespace (and /etc/netns entry) of the lab starts with this, so a crashed run's leftovers can be found. */
export const LAB_PREFIX = 'ashyq-lab-';

/**
 * The hosts. `tap` belongs to the censor: the box its DNS injector runs on, fed by a copy of every
 * DNS query the censor forwards or sends (iptables TEE), as a mirror port feeds an injector.
 */
export const NS = {
  client: `${LAB_PREFIX}client`,
  censor: `${LAB_PREFIX}censor`,
  internet: `${LAB_PREFIX}internet`,
  tap: `${LAB_PREFIX}tap`,
} as const;
export type Host = keyof typeof NS;

/**
 * Links between the hosts (veth pairs). Link addresses are private; none of the namespaces has a
 * link to the machine's own network, so nothing sent inside the lab can leave it.
 */
export const LINKS = [
  { a: { host: 'client', dev: 'c0', ip: '10.77.1.2' }, b: { host: 'censor', dev: 'c1', ip: '10.77.1.1' }, prefix: 24 },
  { a: { host: 'censor', dev: 'i1', ip: '10.77.2.1' }, b: { host: 'internet', dev: 'i0', ip: '10.77.2.2' }, prefix: 24 },
  { a: { host: 'censor', dev: 't1', ip: '10.77.3.1' }, b: { host: 'tap', dev: 't0', ip: '10.77.3.2' }, prefix: 24 },
] as const satisfies ReadonlyArray<{
  a: { host: Host; dev: string; ip: string };
  b: { host: Host; dev: string; ip: string };
  prefix: number;
}>;

/** The client's router and ISP resolver (dnsmasq on the censor). */
export const ISP_RESOLVER = '10.77.1.1';
export const CLIENT_IP = '10.77.1.2';
/** The client's end of its link to the censor (where the lab's line loss applies). */
export const CLIENT_DEV = 'c0';
/** The censor's interface towards the client (where shaping applies to downloads). */
export const CENSOR_CLIENT_DEV = 'c1';
export const CENSOR_INTERNET_DEV = 'i1';
export const CENSOR_TAP_IP = '10.77.3.1';
export const TAP_IP = '10.77.3.2';
/** Where the censor's own block page and interception proxy listen. */
export const BLOCKPAGE_PORT = 8080;
export const INTERCEPT_PORT = 8443;
/** Where the captive portal's login redirect (plain HTTP) and its HTTPS catcher listen on the router. */
export const PORTAL_PORT = 8081;
export const PORTAL_TLS_PORT = 8444;
/** The name the portal's redirect points to. */
export const PORTAL_HOST = 'login.wifi.lab';

/**
 * The lab's "internet". Its services need addresses the probe treats as public: the classifier
 * calls every private, reserved or documentation range a bogon, and a DNS answer in one is
 * tampering. 192.88.99.0/24 is the 6to4 relay anycast prefix that RFC 7526 withdrew: globally
 * scoped, so not a bogon, and no service is meant to be reached there. It exists only on the lab's
 * `internet` host.
 */
export const INTERNET_PREFIX = '192.88.99.0/24';
/** The honest resolver abroad (a UDP delay line in front of dnsmasq, see README). */
export const HONEST_RESOLVER = '192.88.99.53';
/** The address the honest dnsmasq really listens on inside `internet`; the delay line forwards to it. */
export const HONEST_BACKEND = { ip: '127.0.0.1', port: 5353 } as const;
/** The round trip the delay line adds: the resolver is far away, the injector is next door. */
export const HONEST_RESOLVER_DELAY_MS = 120;
/** What the on-path injector answers for the names it poisons: an address where nothing listens. */
export const INJECTED_ADDRESS = '192.88.99.66';
/** What the ISP resolver answers in the bogon scenario (the style of Kazakh ISPs' sinkholes). */
export const BOGON_ADDRESS = '10.10.34.34';

/** The collector, outside the censor's reach (the censor is told to leave it alone in every scenario but the shutdown). */
export const COLLECTOR = { ip: '192.88.99.80', port: 443, name: 'collector.ashyq.lab' } as const;
/**
 * The collector's time-series database (Debian's VictoriaMetrics, which takes the InfluxDB v2 write
 * API): on the internet host's own loopback, beside the collector, so only the collector reaches it.
 */
export const LAB_TSDB = { ip: '127.0.0.1', port: 8428, bucket: 'ashyq', org: 'lab', token: 'lab' } as const;
/** The collector's control vantage in the internet host: a run a minute, so that a scenario's change shows within one. */
export const LAB_CONTROL = { intervalMinutes: 1, asn: 64501, cc: 'DE' } as const;

/** What the collector's IP database says about the client's addresses: a lab ISP in Kazakhstan. */
export const LAB_ISP = { asn: 64500, name: 'ashyq lab ISP', cc: 'KZ', range: ['10.77.1.0', '10.77.1.255'] } as const;

export interface LabTarget {
  id: string;
  name: string;
  category: Category;
  canary?: 'domestic' | 'international';
  domains: string[];
  /** The one address every domain of the target resolves to (one per target, so IP rules hit one target). */
  ip: string;
  /** Fixed TCP endpoints (Telegram's data centres). */
  endpoints?: Array<{ ip: string; ports: number[] }>;
  ports: number[];
  tls_ports: number[];
  http: { path: string; status: number[] } | null;
  /** Size of the page nginx serves for "/" (bytes). */
  pageBytes: number;
  /** A bulk resource (path on the first domain, https) of this size, read for throughput. */
  bulk?: { path: string; bytes: number };
}

/** The bulk resources' size: more than a throttled link delivers in the probe's bulk time bound. */
export const LAB_BULK_BYTES = 1024 * 1024;

/** The lab's targets: real names (and the real list's ids), lab addresses. */
export const LAB_TARGETS: readonly LabTarget[] = [
  {
    id: 'youtube',
    name: 'YouTube',
    category: 'video',
    domains: ['www.youtube.com', 'youtube.com', 'm.youtube.com'],
    ip: '192.88.99.10',
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200, 301, 302] },
    pageBytes: 4096,
  },
  {
    id: 'facebook',
    name: 'Facebook',
    category: 'social',
    domains: ['facebook.com', 'www.facebook.com'],
    ip: '192.88.99.11',
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200, 301, 302] },
    pageBytes: 4096,
  },
  {
    id: 'instagram',
    name: 'Instagram',
    category: 'social',
    domains: ['www.instagram.com', 'instagram.com'],
    ip: '192.88.99.12',
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200, 301, 302] },
    pageBytes: 4096,
  },
  {
    id: 'twitter',
    name: 'Twitter / X',
    category: 'social',
    domains: ['twitter.com', 'x.com'],
    ip: '192.88.99.13',
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200, 301, 302] },
    // Small: the front page (and its handshake) fits in what the throttle lets through at full speed.
    pageBytes: 2048,
    bulk: { path: '/static/bulk.bin', bytes: LAB_BULK_BYTES },
  },
  {
    id: 'telegram',
    name: 'Telegram (web)',
    category: 'messenger',
    domains: ['web.telegram.org', 'telegram.org'],
    ip: '192.88.99.14',
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200, 301, 302] },
    pageBytes: 4096,
  },
  {
    id: 'telegram-dc',
    name: 'Telegram (data centres)',
    category: 'messenger',
    domains: [],
    ip: '192.88.99.40',
    // Five data centres, as Telegram has.
    endpoints: [40, 41, 42, 43, 44].map((n) => ({ ip: `192.88.99.${n}`, ports: [443, 80] })),
    ports: [443, 80],
    tls_ports: [],
    http: null,
    pageBytes: 0,
  },
  {
    id: 'whatsapp-web',
    name: 'WhatsApp (web)',
    category: 'messenger',
    domains: ['web.whatsapp.com'],
    ip: '192.88.99.15',
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200, 301, 302] },
    pageBytes: 4096,
  },
  {
    // Plain HTTP only in the lab: block pages are served on unencrypted requests.
    id: 'azattyq',
    name: 'Azattyq (RFE/RL)',
    category: 'news',
    domains: ['rus.azattyq.org', 'www.azattyq.org'],
    ip: '192.88.99.20',
    ports: [80],
    tls_ports: [],
    http: { path: '/', status: [200] },
    pageBytes: 8192,
  },
  {
    id: 'egov-kz',
    name: 'eGov.kz',
    category: 'canary',
    canary: 'domestic',
    domains: ['egov.kz'],
    ip: '192.88.99.30',
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200, 301, 302] },
    pageBytes: 2048,
  },
  {
    id: 'wikipedia',
    name: 'Wikipedia',
    category: 'canary',
    canary: 'international',
    domains: ['www.wikipedia.org'],
    ip: '192.88.99.31',
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200] },
    pageBytes: 2048,
  },
  {
    // Also the probe's neutral SNI.
    id: 'example',
    name: 'example.com (IANA)',
    category: 'canary',
    canary: 'international',
    domains: ['www.example.com'],
    ip: '192.88.99.32',
    ports: [80, 443],
    tls_ports: [443],
    http: { path: '/', status: [200] },
    pageBytes: 1024,
    // The canary's bulk resource: the rate a bulk read reaches on this line in the same run.
    bulk: { path: '/static/bulk.bin', bytes: LAB_BULK_BYTES },
  },
];

export const NEUTRAL_SNI = 'www.example.com';

/** The addresses of Telegram's lab data centres. */
export function dcAddresses(): string[] {
  return (labTarget('telegram-dc').endpoints ?? []).map((e) => e.ip);
}

export function labTarget(id: string): LabTarget {
  const t = LAB_TARGETS.find((x) => x.id === id);
  if (t === undefined) throw new InvalidArgumentError(`no lab target "${id}"`);
  return t;
}

/** Every address the internet host holds: the honest resolver, the targets, their endpoints. */
export function internetAddresses(): string[] {
  const all = new Set<string>([HONEST_RESOLVER, COLLECTOR.ip]);
  for (const t of LAB_TARGETS) {
    all.add(t.ip);
    for (const e of t.endpoints ?? []) all.add(e.ip);
  }
  return [...all];
}
