// The daemon's uploads: an Uploader sending what the spool holds to the collector, with the config's batch size and backoff.
import type { Clock } from '../../common/clock.js';
import type { ProbeConfig } from '../config/probe-config.js';
import type { CollectorClient } from '../upload/client.js';
import type { Revocation } from '../upload/revocation.js';
import { Uploader } from '../upload/uploader.js';
import type { Log } from './log.js';
import type { Timers } from './scheduler.js';
import type { Started } from './start-up.js';
import type { StatusWriter } from './status-writer.js';

export interface UploadsOptions {
  config: ProbeConfig;
  started: Pick<Started, 'spool' | 'onPinMismatch'>;
  client: CollectorClient;
  clock: Clock;
  random: () => number;
  log: Log;
  status: StatusWriter;
  /** How long the batch in flight may finish once a stop is asked. */
  stopTimeoutMs: number;
  timers: Timers;
  /** The collector revoked this probe (the daemon says it and stops the rest). */
  onRevoked: (revocation: Revocation) => void;
}

export function uploaderFor(o: UploadsOptions): Uploader {
  const { config, status } = o;
  return new Uploader({
    spool: o.started.spool,
    client: o.client,
    clock: o.clock,
    batchSize: config.upload.batch_size,
    backoff: { baseMs: config.upload.backoff_base_s * 1000, capMs: config.upload.backoff_cap_s * 1000 },
    random: o.random,
    onPinMismatch: o.started.onPinMismatch,
    log: o.log,
    stopTimeoutMs: o.stopTimeoutMs,
    // `ashyq-probe status` shows an upload as soon as it is answered.
    onAttempt: () => status.update(),
    // While backing off from an unreachable collector, its return is looked for every ~30 s.
    reachable: () => o.client.reachable(),
    // Revoked: the uploads stop for good; the daemon says it once and idles.
    onRevoked: o.onRevoked,
    timers: o.timers,
  });
}
