// The collector's own error classes (stable codes); network and input faults are answers, not these.
import { AshyqError } from '../common/errors.js';

/** A line of the archive that is not a complete JSON record (outside the torn tail handled at open). */
export class ArchiveCorruptError extends AshyqError {
  constructor(segment: string, offset: number, problem: string) {
    super('ASHYQ_ERR_ARCHIVE_CORRUPT', `archive segment ${segment} at byte ${offset}: ${problem}`);
  }
}

/** A surge that cannot be asked for (or a surge file that cannot be served): names the field and the problem. */
export class SurgeError extends AshyqError {
  /** `targets`, `interval_minutes`, `until`, or `file` (the surge file as a whole). */
  readonly field: 'targets' | 'interval_minutes' | 'until' | 'file';
  readonly problem: string;
  constructor(field: SurgeError['field'], problem: string) {
    super('ASHYQ_ERR_SURGE', `surge ${field}: ${problem}`);
    this.field = field;
    this.problem = problem;
  }
}

/** The command line was used wrongly. */
export class UsageError extends AshyqError {
  constructor(message: string) {
    super('ASHYQ_ERR_USAGE', message);
  }
}

/** A segment given to import could not be read (missing, unreadable, or not valid gzip). */
export class ImportReadError extends AshyqError {
  readonly file: string;
  /** The system's or zlib's code (ENOENT, Z_DATA_ERROR, …), when there is one. */
  readonly cause_code: string | null;
  constructor(file: string, problem: string, code: string | null) {
    super('ASHYQ_ERR_IMPORT_READ', `import ${file}: ${problem}`);
    this.file = file;
    this.cause_code = code;
  }
}

/** A report that could not be written (e.g. the PDF printer failed): names the output and the problem. */
export class ReportError extends AshyqError {
  readonly output: string;
  constructor(output: string, problem: string) {
    super('ASHYQ_ERR_REPORT', `report ${output}: ${problem}`);
    this.output = output;
  }
}
