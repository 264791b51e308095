// The probe's own error classes (identity, runs of the daemon), each with a stable code.
import { AshyqError } from '../common/errors.js';

/** The probe's identity files (state_dir/identity.json, key.pem) exist but cannot be used. */
export class IdentityError extends AshyqError {
  readonly file: string;
  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super('ASHYQ_ERR_IDENTITY', `${file}: ${problem}`, options);
    this.file = file;
  }
}

/** A measuring run of the daemon outlived its deadline and was aborted. */
export class RunDeadlineError extends AshyqError {
  constructor(ms: number) {
    super('ASHYQ_ERR_RUN_DEADLINE', `the measuring run took longer than ${Math.round(ms / 1000)} s and was aborted`);
  }
}

/** A measuring run was aborted because the daemon is stopping. */
export class DaemonStoppingError extends AshyqError {
  constructor() {
    super('ASHYQ_ERR_STOPPING', 'the daemon is stopping: the run was aborted');
  }
}
