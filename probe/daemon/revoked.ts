// The daemon once the collector revoked this probe: said once in the log, uploads, runs and polls stopped, the status showing it; a restart tries again.
import type { Revocation } from '../upload/revocation.js';
import type { Log } from './log.js';
import { revocationNotice } from './revoked-text.js';
import type { StatusWriter } from './status-writer.js';

export interface RevokedProbeOptions {
  collector: string;
  probeId: string;
  stateDir: string;
  log: Log;
  status: StatusWriter;
  /** Measurements in the spool now. */
  waiting: () => number;
}

/**
 * Kept in memory only: the daemon stays up and idle (systemd does not restart it in a loop), and
 * a restart (after the volunteer enrolled again, say) starts from scratch and asks the collector once more.
 */
export class RevokedProbe {
  readonly #o: RevokedProbeOptions;
  readonly #halts: Array<() => void> = [];
  #seen: Revocation | null = null;

  constructor(options: RevokedProbeOptions) {
    this.#o = options;
  }

  /** Something to stop when the revocation is seen (at once when it already was). */
  halts(fn: () => void): void {
    this.#halts.push(fn);
    if (this.#seen !== null) fn();
  }

  /** The collector's answer said it revoked this probe: the first time, say it and stop everything registered. */
  seen(revocation: Revocation): void {
    if (this.#seen !== null) return;
    this.#seen = revocation;
    const { collector, probeId, stateDir, log, status } = this.#o;
    log('error', revocationNotice({ collector, probeId, revocation, waiting: this.#o.waiting(), stateDir }));
    for (const fn of this.#halts) {
      try {
        fn();
      } catch (err) {
        log('error', `stopping after the revocation failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    status.update();
  }

  /** The revocation seen, or null. */
  status(): Revocation | null {
    return this.#seen;
  }
}
