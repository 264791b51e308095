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
  /** HTTP GET made on each domain when set; https when 443 is among `tls_ports`, else http on 80. */
  http: HttpExpectation | null;
}
