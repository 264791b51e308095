// The lab's censorship scenarios: what the censor does (a real mechanism each) and the verdict the probe must reach per target.
import type { Layer, Verdict } from '../../contract/verdict.js';
import type { Censor } from './censor.js';
import { BOGON_ADDRESS, INJECTED_ADDRESS, labTarget, LAB_TARGETS } from './topology.js';

export interface Expected {
  verdict: Verdict;
  layer: Layer | null;
}

export interface Scenario {
  name: string;
  /** One line for `npm run lab -- list` and the README. */
  summary: string;
  /** How the censor does it, in terms of the tools on the router. */
  mechanism: string;
  apply(censor: Censor): Promise<void>;
  /** Targets whose verdict is not ok; every other lab target must be ok. */
  blocked: Readonly<Record<string, Expected>>;
  /** When set, every target gets this verdict (shutdown). */
  all?: Expected;
}

const ip = (id: string) => labTarget(id).ip;

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'clean',
    summary: 'no censorship: every target reachable',
    mechanism: 'the censor routes and resolves honestly',
    apply: async () => {},
    blocked: {},
  },
  {
    name: 'dns-nxdomain',
    summary: 'the ISP resolver says YouTube does not exist',
    mechanism: 'dnsmasq on the censor: address=/youtube.com/ (NXDOMAIN for the name and its subdomains)',
    apply: (c) => c.resolver(['/youtube.com/']),
    blocked: { youtube: { verdict: 'dns.nxdomain', layer: 'dns' } },
  },
  {
    name: 'dns-bogon',
    summary: 'the ISP resolver answers Facebook with a private address',
    mechanism: `dnsmasq on the censor: address=/facebook.com/${BOGON_ADDRESS}`,
    apply: (c) => c.resolver([`/facebook.com/${BOGON_ADDRESS}`]),
    blocked: { facebook: { verdict: 'dns.bogon', layer: 'dns' } },
  },
  {
    name: 'dns-injection',
    summary: 'an on-path injector races a forged answer for Twitter ahead of every resolver, the honest one included',
    mechanism:
      'iptables -t mangle ... -p udp --dport 53 -j TEE copies each query to the injector box, which answers ' +
      `from the resolver's address with ${INJECTED_ADDRESS}; the real answer arrives later`,
    apply: (c) => c.injectDns({ 'twitter.com': INJECTED_ADDRESS, 'x.com': INJECTED_ADDRESS }),
    blocked: { twitter: { verdict: 'dns.injected', layer: 'dns' } },
  },
  {
    name: 'tcp-reset',
    summary: "Instagram's address: connections are reset as soon as the handshake is done",
    mechanism: `iptables -A FORWARD -p tcp -d ${ip('instagram')} ! --syn -j REJECT --reject-with tcp-reset`,
    apply: (c) => c.resetTcp([ip('instagram')], 'after-handshake'),
    blocked: { instagram: { verdict: 'tcp.reset', layer: 'tcp' } },
  },
  {
    name: 'tcp-refused',
    summary: "Instagram's address: the SYN itself is answered with a reset (to a client, a closed port)",
    mechanism: `iptables -A FORWARD -p tcp -d ${ip('instagram')} --syn -j REJECT --reject-with tcp-reset`,
    apply: (c) => c.resetTcp([ip('instagram')], 'syn'),
    blocked: { instagram: { verdict: 'tcp.refused', layer: 'tcp' } },
  },
  {
    name: 'blackhole',
    summary: "Telegram's web and data-centre addresses: packets silently dropped",
    mechanism: `iptables -A FORWARD -d ${ip('telegram')} -j DROP (and the data centre ${ip('telegram-dc')})`,
    apply: (c) => c.blackhole([ip('telegram'), ip('telegram-dc')]),
    blocked: {
      telegram: { verdict: 'tcp.timeout', layer: 'tcp' },
      'telegram-dc': { verdict: 'tcp.timeout', layer: 'tcp' },
    },
  },
  {
    name: 'sni-filter',
    summary: 'a ClientHello naming Facebook is reset; the same address with another SNI works',
    mechanism: 'iptables -A FORWARD -p tcp --dport 443 -m string --algo bm --string facebook.com -j REJECT --reject-with tcp-reset',
    apply: (c) => c.filterSni(['facebook.com']),
    blocked: { facebook: { verdict: 'tls.reset', layer: 'tls' } },
  },
  {
    name: 'tls-interception',
    summary: "YouTube's TLS is intercepted with certificates from a fake national root",
    mechanism: `iptables -t nat PREROUTING -d ${ip('youtube')} --dport 443 -j REDIRECT to sslsplit, signing with the lab's national root`,
    apply: (c) => c.intercept([ip('youtube')]),
    blocked: { youtube: { verdict: 'tls.interception', layer: 'tls' } },
  },
  {
    name: 'http-blockpage',
    summary: 'plain HTTP to Azattyq gets the ISP block page',
    mechanism: `iptables -t nat PREROUTING -d ${ip('azattyq')} --dport 80 -j DNAT to the censor's nginx serving the notice`,
    apply: (c) => c.blockpage([ip('azattyq')]),
    blocked: { azattyq: { verdict: 'http.blockpage', layer: 'http' } },
  },
  {
    name: 'throttling',
    summary: "Twitter's downloads shaped to 64 kbit/s: handshakes pass, the page does not arrive in time",
    mechanism: `tc htb class of 64kbit on the censor's client link; iptables -t mangle POSTROUTING -s ${ip('twitter')} -j CLASSIFY`,
    apply: (c) => c.throttle([ip('twitter')], '64kbit'),
    blocked: { twitter: { verdict: 'http.diff', layer: 'http' } },
  },
  {
    name: 'shutdown',
    summary: 'total shutdown: the ISP withdraws its route to the internet',
    mechanism: 'ip route replace unreachable 192.88.99.0/24 on the censor',
    apply: (c) => c.shutdown(),
    blocked: {},
    all: { verdict: 'offline', layer: null },
  },
];

export function scenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** The verdict every lab target must get under `s`. */
export function expectations(s: Scenario): Record<string, Expected> {
  const out: Record<string, Expected> = {};
  for (const t of LAB_TARGETS) out[t.id] = s.all ?? s.blocked[t.id] ?? { verdict: 'ok', layer: null };
  return out;
}
