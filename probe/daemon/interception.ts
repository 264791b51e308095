// Records a pinned-key mismatch of the collector as a `tls.interception` measurement of target ashyq-collector, into the spool.
import type { Clock } from '../../common/clock.js';
import type { TlsObservation } from '../../contract/evidence.js';
import type { Measurement, ProbeInfo } from '../../contract/measurement.js';
import { ulid } from '../ulid.js';
import { collectorInterceptionMeasurement } from '../upload/pin.js';
import { errorText, type Log } from './log.js';
import { SerialQueue } from '../../common/serial-queue.js';

export interface InterceptionOptions {
  spool: { append(m: Measurement): Promise<void> };
  /** The probe as the next measurement states it. */
  probe: () => ProbeInfo;
  clock: Clock;
  log: Log;
  /**
   * The same certificate is recorded again only after this long: every upload attempt, target
   * fetch and whoami meets it, and one measurement per interval says all there is to say.
   */
  minGapMs: number;
  /** Called after each recorded measurement (e.g. to kick the uploader). */
  onRecorded?: (m: Measurement) => void;
}

/** What identifies the certificate met: its leaf key, else the leaf fingerprint, else nothing presented. */
function keyOf(evidence: TlsObservation): string {
  const leaf = evidence.chain[0];
  return leaf?.spki_sha256 ?? leaf?.fingerprint256 ?? 'no-certificate';
}

export class InterceptionRecorder {
  readonly #o: InterceptionOptions;
  readonly #last = new Map<string, number>();
  readonly #writes = new SerialQueue();
  #recorded = 0;

  constructor(options: InterceptionOptions) {
    this.#o = options;
  }

  get recorded(): number {
    return this.#recorded;
  }

  /** Note one mismatch (from the uploader's hook or a failed fetch); returns whether it is recorded. */
  record(evidence: TlsObservation): boolean {
    const now = this.#o.clock.now();
    const key = keyOf(evidence);
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#o.minGapMs) return false;
    this.#last.set(key, now);
    const runtime = Math.round(evidence.rtt_ms ?? 0);
    const m = collectorInterceptionMeasurement({ evidence, probe: this.#o.probe(), id: ulid(Math.floor(now)), startedAt: now - runtime, runtimeMs: runtime });
    void this.#writes.run(async () => {
      try {
        await this.#o.spool.append(m);
        this.#recorded++;
        this.#o.log('error', `taken ${m.id} ${m.target.id} ${m.verdict.verdict}: ${m.verdict.reason}`);
        this.#o.onRecorded?.(m);
      } catch (err) {
        this.#o.log('error', `interception: could not spool the tls.interception measurement of the collector: ${errorText(err)}`);
      }
    });
    return true;
  }

  /** Wait until every recorded measurement is in the spool. */
  flush(): Promise<void> {
    return this.#writes.idle();
  }
}
