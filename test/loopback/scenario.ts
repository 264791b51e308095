// The shape of a loopback censorship scenario: a target, how the fake censor is configured, what must be observed.
import type { DnsBehavior } from '../fakes/dns-server.js';
import type { Endpoint, HttpExpectation } from '../../contract/target.js';
import type { Layer, Verdict } from '../../contract/verdict.js';

/** In a scenario's DNS answers: stands for the domain's real address in the lab. */
export const REAL = '<real>';

/** What the censor does to TCP connections towards a domain's addresses or a fixed endpoint. */
export type TcpCensor = 'reset' | 'blackhole' | 'refuse';
/** What the censor does to TLS towards a domain (SNI filter, stall, interception with a given chain). */
export type TlsCensor = 'sni-reset' | 'stall' | 'eof' | 'qaznet' | 'self-signed' | 'wrong-host' | 'expired';
/** What the censor (or the server) answers over HTTP for a domain. */
export type HttpCensor = 'blockpage' | 'garbage' | { status: number };

export interface Censor {
  /** The ISP's resolver (the probe's system resolver) per domain. */
  ispDns?: Record<string, DnsBehavior>;
  /** An on-path injector: applies to every plain-UDP resolver, the honest one included. */
  pathDns?: Record<string, DnsBehavior>;
  /** The control DoH resolver is unreachable (its address blackholed). */
  dohBlackholed?: boolean;
  /** Keyed by domain (all its addresses) or by a fixed endpoint's IP. */
  tcp?: Record<string, TcpCensor>;
  /** Keyed by domain: applies on its addresses' TLS ports. */
  tls?: Record<string, TlsCensor>;
  /** Keyed by domain: applies to its HTTP (port 80) or HTTPS answer. */
  http?: Record<string, HttpCensor>;
  /** Keyed by domain: applies to plain HTTP on port 80 only (HTTPS untouched): a block page, a reset of the request, or silence after it. */
  plainHttp?: Record<string, 'blockpage' | 'reset-request' | 'silent'>;
  /** Keyed by domain: its bulk resource (over https) trickles at this many bytes per second; the page and handshakes are fine. */
  throttle?: Record<string, number>;
  /** Keyed by domain: the server's first flight of every TLS handshake held back this long (ms) on the path. */
  slowHandshake?: Record<string, number>;
  /** Nothing answers at all, canaries included. */
  shutdown?: boolean;
}

export interface ScenarioTarget {
  id: string;
  domains?: string[];
  endpoints?: Endpoint[];
  ports?: number[];
  tls_ports?: number[];
  http?: HttpExpectation | null;
  /** A bulk resource: `https://<one of domains>/static/bulk.bin` is served by every honest server. */
  bulk?: string;
}

/** One observation that must be present: a selector and the fields it must have. */
export type ObservationExpectation =
  /** resolver: getaddrinfo (system), the system's resolver asked directly (system-direct), a configured UDP resolver, DoH. */
  | { layer: 'dns'; domain: string; resolver?: 'system' | 'system-direct' | 'udp' | 'doh'; qtype?: 'A' | 'AAAA'; has: Record<string, unknown> }
  | { layer: 'tcp'; domain?: string | null; ip?: string; port?: number; has: Record<string, unknown> }
  | { layer: 'tls'; domain?: string; ip?: string; port?: number; has: Record<string, unknown> }
  | { layer: 'http'; domain?: string; port?: number; has: Record<string, unknown> }
  | { layer: 'bulk'; domain?: string; has: Record<string, unknown> };

export interface ScenarioCase {
  name: string;
  target: ScenarioTarget;
  censor: Censor;
  expect: {
    verdict: Verdict;
    layer?: Layer | null;
    /** Lower bound on the decision's confidence. */
    minConfidence?: number;
    observations?: ObservationExpectation[];
  };
}
