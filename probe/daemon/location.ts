// The network a measurement is attributed to: ASN, country and name from the collector's whoami or the config; never an address.
//
// Kept in memory only. Values the volunteer states in the config take precedence over the
// collector's answer, field by field. Through a proxy the collector sees the proxy's network, not the
// one measured, so whoami is not asked then. A stale answer (older than maxAgeMs without a new one,
// e.g. a laptop that moved to a network where the collector is unreachable) is forgotten.
import type { ProbeNetwork } from '../config/probe-config.js';
import type { Clock } from '../../common/clock.js';
import type { TlsObservation } from '../../contract/evidence.js';
import { UploadError, type CollectorClient } from '../upload/client.js';
import { errorText, type Log } from './log.js';
import type { LocationStatus } from './status.js';

export interface LocationOptions {
  config: ProbeNetwork;
  client: Pick<CollectorClient, 'whoami'> | null;
  /** Uploads go through a proxy: the collector would see the proxy's network. */
  viaProxy: boolean;
  clock: Clock;
  log: Log;
  maxAgeMs: number;
  onPinMismatch?: (evidence: TlsObservation) => void;
}

export class Location {
  readonly #o: LocationOptions;
  #answer: ProbeNetwork | null = null;
  #answeredAt: number | null = null;
  #checkedAt: number | null = null;
  #lastError: string | null = null;

  constructor(options: LocationOptions) {
    this.#o = options;
  }

  /** Whether the collector is asked at all. */
  get asks(): boolean {
    return this.#o.client !== null && !this.#o.viaProxy;
  }

  async refresh(): Promise<void> {
    const client = this.#o.client;
    if (client === null || this.#o.viaProxy) return;
    this.#checkedAt = this.#o.clock.now();
    try {
      const answer = await client.whoami();
      const changed = JSON.stringify(answer) !== JSON.stringify(this.#answer);
      this.#answer = { asn: answer.asn, cc: answer.cc, network: answer.network };
      this.#answeredAt = this.#checkedAt;
      this.#lastError = null;
      if (changed) {
        this.#o.log('info', `network: ${[answer.asn !== null ? `AS${answer.asn}` : 'unknown ASN', answer.cc, answer.network].filter((x) => x !== null).join(' ')} (as the collector sees it)`);
      }
    } catch (err) {
      if (err instanceof UploadError && err.kind === 'pin_mismatch' && err.pinEvidence !== undefined) this.#o.onPinMismatch?.(err.pinEvidence);
      this.#lastError = errorText(err);
    }
  }

  #fresh(): ProbeNetwork | null {
    if (this.#answer === null || this.#answeredAt === null) return null;
    return this.#o.clock.now() - this.#answeredAt <= this.#o.maxAgeMs ? this.#answer : null;
  }

  /** What the next measurements state: config values first, then the collector's fresh answer. */
  current(): ProbeNetwork {
    const c = this.#o.config;
    const a = this.#fresh();
    return { asn: c.asn ?? a?.asn ?? null, cc: c.cc ?? a?.cc ?? null, network: c.network ?? a?.network ?? null };
  }

  lastError(): string | null {
    return this.#lastError;
  }

  status(): LocationStatus {
    const cur = this.current();
    const c = this.#o.config;
    const fromConfig = c.asn !== null || c.cc !== null || c.network !== null;
    const source = this.#fresh() !== null ? 'collector' : fromConfig ? 'config' : 'none';
    return { ...cur, source, checked_at: this.#checkedAt === null ? null : new Date(this.#checkedAt).toISOString() };
  }
}
