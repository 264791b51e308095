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

/** The server could not listen on its configured address (in use, not this machine's, or a privileged port): one line, naming the config key to change. */
export class ListenError extends AshyqError {
  /** The system's code: EADDRINUSE, EADDRNOTAVAIL, EACCES, … */
  readonly cause_code: string;
  constructor(host: string, port: number, code: string, cause?: unknown) {
    const at = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const problem =
      code === 'EADDRINUSE'
        ? `port ${port} is taken by another process (another ashyq-collector?): stop it, or set listen.port in the config (--config FILE) to a free port`
        : code === 'EADDRNOTAVAIL'
          ? `${host} is not an address of this machine: set listen.host in the config (--config FILE) to one of its addresses (127.0.0.1: this machine only)`
          : code === 'EACCES'
            ? `not allowed to listen on port ${port} (ports below 1024 need privileges): set listen.port in the config (--config FILE) to 1024 or above`
            : `${code}: check listen.host and listen.port in the config (--config FILE)`;
    super('ASHYQ_ERR_LISTEN', `cannot listen on ${at}: ${problem}`, { cause });
    this.cause_code = code;
  }
}
