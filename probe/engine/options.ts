// Settings of one measuring run, assembled from the probe config (and, at the collector, its own).
import type { ProbeConfig } from '../config/probe-config.js';
import type { ResolverSpec } from '../measure/dns.js';
import type { DnsQueryType, Evidence } from '../../contract/evidence.js';
import type { ProbeInfo } from '../../contract/measurement.js';
import type { TrustStore } from '../trust.js';
import type { Decision } from '../../contract/verdict.js';
import type { Target } from '../../contract/target.js';
import type { ThrottleThresholds } from '../classify/throttle.js';

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
  /** At most this many busy TLS handshakes and HTTP requests at once (see engine/limits.ts); default ENGINE_DEFAULTS'. */
  handshakeConcurrency?: number;
  /** SNI used to retry a reset or stalled handshake, telling SNI filtering from IP blocking. */
  neutralSni: string;
  /** At most this many addresses per domain and family are connected to. */
  maxAddressesPerDomain: number;
  maxBodyBytes: number;
  /** Bulk reads for throughput (targets' and canaries' `bulk` resources): off, or bounded in size and time. */
  bulk: { enabled: boolean; maxBytes: number; maxMs: number };
  /** When a bulk rate or a handshake is slow enough against the canaries' to be throttling. */
  throttle: ThrottleThresholds;
  trust: TrustStore;
  signal?: AbortSignal;
  /** Called as work progresses (for the command line's progress display). */
  onProgress?: (event: ProgressEvent) => void;
  /** The control vantage's evidence fetched from the collector for this run (absent: no collector, none asked). */
  controls?: ControlSet;
  /** Called with each target as soon as it is measured, before the run is judged (awaited: a daemon journals it). */
  onMeasured?: (measured: import('./run.js').MeasuredTarget) => Promise<void> | void;
}

/** The control vantage's evidence a run is judged with: a failure the control shares is `down`. */
export interface ControlSet {
  /** The freshest control of each target the collector had, by target id. */
  byTarget: ReadonlyMap<string, { id: string; at: number; evidence: Evidence }>;
  /** A control measured further than this from the target's own measurement is not used. */
  maxAgeMs: number;
  /** Why there is none at all, when fetching failed (said in the reason of every block judged without one). */
  missing: string | null;
}

/** A control older than this is not used (three hours: the probes' and the control's hourly runs, and some slack). */
export const CONTROL_MAX_AGE_MS = 3 * 3600_000;

export type ProgressEvent =
  | { type: 'target-start'; target: Target; started: number; total: number }
  | { type: 'target-done'; target: Target; decision: Decision; done: number; total: number }
  /** Targets that failed in a way packet loss can fake, measured again before the run is judged. */
  | { type: 'remeasure'; targets: Target[] };

/** Engine settings that the probe config does not expose. */
export const ENGINE_DEFAULTS = {
  maxAddressesPerDomain: 4,
  /**
   * Busy handshakes and requests hold the memory of a run (see engine/limits.ts): at most 32 at
   * once, each counted for at most handshakeHoldMs (a stalled one then waits without a slot).
   */
  handshakeConcurrency: 32,
  handshakeHoldMs: 500,
  /** A connect pending this long (a blackholed address) gives its global slot to the next step. */
  connectHoldMs: 1000,
  /** Connects open at once, per slot of the global limit (bounds a run's sockets). */
  openConnectsPerSlot: 4,
};

/** Engine options from a validated probe config, a probe identity and a trust store. */
export function engineOptionsFrom(config: ProbeConfig, probe: ProbeInfo, trust: TrustStore, signal?: AbortSignal): EngineOptions {
  const m = config.measure;
  return {
    probe,
    resolvers: m.resolvers,
    controlDoh: m.control_doh,
    qtypes: m.qtypes,
    timeoutMs: m.timeout_ms,
    listenWindowMs: m.dns_listen_window_ms,
    concurrency: m.concurrency,
    perHostConcurrency: m.per_host_concurrency,
    handshakeConcurrency: ENGINE_DEFAULTS.handshakeConcurrency,
    neutralSni: m.neutral_sni,
    maxAddressesPerDomain: ENGINE_DEFAULTS.maxAddressesPerDomain,
    maxBodyBytes: m.page_max_kb * 1024,
    bulk: { enabled: m.bulk_max_kb > 0, maxBytes: m.bulk_max_kb * 1024, maxMs: m.bulk_max_ms },
    throttle: {
      ratio: m.throttle_ratio,
      maxRateBps: m.throttle_max_kb_per_s * 1000,
      handshakeMs: m.throttle_handshake_ms,
      canaryHandshakeMs: m.throttle_canary_handshake_ms,
    },
    trust,
    ...(signal ? { signal } : {}),
  };
}
