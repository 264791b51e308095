// The daemon's stop: no new run or poll; the run and the upload in flight get the grace period; the status is written as stopped; all is closed.
import type { Clock } from '../../common/clock.js';
import type { Uploader } from '../upload/uploader.js';
import type { Activity } from './activity.js';
import type { Closers } from './closers.js';
import type { Log } from './log.js';
import type { CollectorPoll } from './poll.js';
import type { Scheduler } from './scheduler.js';
import type { Started } from './start-up.js';
import type { StatusWriter } from './status-writer.js';

export interface ShutdownOptions {
  started: Pick<Started, 'client' | 'interceptions' | 'spool'>;
  scheduler: Scheduler;
  uploader: Uploader | null;
  poll: CollectorPoll;
  status: StatusWriter;
  activity: Activity;
  closers: Closers;
  clock: Clock;
  log: Log;
  /** How long a run (and an upload) in flight may finish; then it is aborted. */
  stopGraceMs: number;
}

export async function shutDown(o: ShutdownOptions): Promise<void> {
  const { started, status, activity, clock, log, stopGraceMs } = o;
  const t0 = clock.monotonic();
  log('info', `stopping: no new runs; a run or upload in flight gets ${Math.round(stopGraceMs / 1000)} s to finish`);
  activity.state = 'stopping';
  o.poll.stop();
  status.stopRefreshing();
  status.update();
  await Promise.all([o.scheduler.stop(stopGraceMs), o.uploader?.stop()]);
  await started.client?.close();
  await started.interceptions.flush();
  activity.state = 'stopped';
  status.update();
  await status.flush();
  const waiting = started.spool.stats().count;
  await o.closers.closeAll();
  log('info', `stopped in ${((clock.monotonic() - t0) / 1000).toFixed(1)} s; ${waiting} measurements wait in the spool`);
}
