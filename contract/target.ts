// The target type: what to measure for one service, as validated from targets.yaml.

export const CATEGORIES = ['video', 'social', 'messenger', 'news', 'circumvention', 'canary'] as const;
export type Category = (typeof CATEGORIES)[number];

/** A fixed address measured without DNS, e.g. a Telegram data centre. */
export interface Endpoint {
  ip: string;
  ports: number[];
}

/** What a reachable, uncensored answer looks like over HTTP. */
export interface HttpExpectation {
  /** Path requested on every domain, e.g. "/". */
  path: string;
  /** Statuses that count as the real service answering (redirects included where normal). */
  status: number[];
}

export interface Target {
  id: string;
  name: string;
  category: Category;
  /** For canaries: whether the host is inside Kazakhstan or abroad. */
  canary?: 'domestic' | 'international';
  /** Domains resolved, connected to (on `ports`), handshaken with (on `tls_ports`) and fetched. */
  domains: string[];
  /** Fixed addresses connected to over TCP only (they may speak their own protocol, e.g. MTProto). */
  endpoints: Endpoint[];
  /** TCP ports tried on every resolved address of every domain. */
  ports: number[];
  /** Ports on which a TLS handshake is made (subset of the ports used). */
  tls_ports: number[];
  /**
   * Domains whose certificates come from the service's own CA, not the public roots (Signal's chat
   * and storage servers): an untrusted chain there is normal; only a known interception CA or a
   * certificate for another name is interception. Absent means none.
   */
  private_ca?: string[];
  /**
   * HTTP GET made on each domain when set: http:// on port 80 when 80 is among `ports`, and https://
   * on 443 when 443 is among `tls_ports` (both when both are), each its own observation.
   */
  http: HttpExpectation | null;
  /**
   * A larger static resource of the service (an image, a script), read for a bounded time and size
   * to measure throughput against the canaries' in the same run (throttling). Its host is one of
   * `domains`; the scheme's port (80 or 443 with TLS) is one the target measures.
   */
  bulk?: string;
}

export type HttpScheme = 'http' | 'https';

/** The schemes a target's pages are fetched over: http on 80 when it connects to 80, https on 443 when it handshakes there. */
export function httpSchemesOf(t: Pick<Target, 'ports' | 'tls_ports'>): HttpScheme[] {
  const out: HttpScheme[] = [];
  if (t.ports.includes(80)) out.push('http');
  if (t.tls_ports.includes(443)) out.push('https');
  return out;
}

/** The port a scheme is fetched on. */
export function portOf(scheme: HttpScheme): number {
  return scheme === 'https' ? 443 : 80;
}

/** The scheme of an HTTP observation's URL. */
export function schemeOfUrl(url: string): HttpScheme {
  return url.startsWith('https:') ? 'https' : 'http';
}

/** A target's bulk resource split into domain, scheme and path (path with the query), or null without one. */
export function bulkOf(t: Pick<Target, 'bulk'>): { domain: string; scheme: HttpScheme; path: string } | null {
  if (t.bulk === undefined) return null;
  const u = new URL(t.bulk);
  return { domain: u.hostname, scheme: u.protocol === 'https:' ? 'https' : 'http', path: `${u.pathname}${u.search}` };
}
