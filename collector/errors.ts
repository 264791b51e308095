// The collector's own error classes (stable codes); network and input faults are answers, not these.
import { AshyqError } from '../probe/errors.js';

/** A line of the archive that is not a complete JSON record (outside the torn tail handled at open). */
export class ArchiveCorruptError extends AshyqError {
  constructor(segment: string, offset: number, problem: string) {
    super('ASHYQ_ERR_ARCHIVE_CORRUPT', `archive segment ${segment} at byte ${offset}: ${problem}`);
  }
}

/** The command line was used wrongly. */
export class UsageError extends AshyqError {
  constructor(message: string) {
    super('ASHYQ_ERR_USAGE', message);
  }
}
