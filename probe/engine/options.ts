// Settings of one measuring run, assembled from the probe config (and, at the collector, its own).
import type { ResolverSpec } from '../measure/dns.js';
import type { DnsQueryType } from '../evidence.js';
import type { ProbeInfo } from '../measurement.js';
import type { TrustStore } from '../trust.js';
import type { Decision } from '../verdict.js';
import type { Target } from '../target.js';

export interface EngineOptions {
  probe: ProbeInfo;
  /** Resolvers asked for every domain (the control DoH resolver is appended when set). */
  resolvers: ResolverSpec[];
  /** A DoH resolver outside the censor's reach, used as control when reachable. */
  controlDoh: string | null;
  qtypes: DnsQueryType[];
  /** Bound on every single step (a DNS query, a connect, a handshake, a request). */
  timeoutMs: number;
  /** How long DNS keeps listening after the first answer, to catch injected races. */
  listenWindowMs: number;
  concurrency: number;
  perHostConcurrency: number;
  /** SNI used to retry a reset or stalled handshake, telling SNI filtering from IP blocking. */
  neutralSni: string;
  /** At most this many addresses per domain and family are connected to. */
  maxAddressesPerDomain: number;
  maxBodyBytes: number;
  trust: TrustStore;
  signal?: AbortSignal;
  /** Called as work progresses (for the command line's progress display). */
  onProgress?: (event: ProgressEvent) => void;
}

export type ProgressEvent =
  | { type: 'target-start'; target: Target; started: number; total: number }
  | { type: 'target-done'; target: Target; decision: Decision; done: number; total: number };

export const ENGINE_DEFAULTS = {
  qtypes: ['A', 'AAAA'] as DnsQueryType[],
  timeoutMs: 5000,
  listenWindowMs: 300,
  concurrency: 128,
  perHostConcurrency: 4,
  neutralSni: 'www.example.com',
  maxAddressesPerDomain: 4,
  maxBodyBytes: 1024 * 1024,
};
