// The project's own error classes, each with a stable code; only programming and config faults throw.

export class AshyqError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration or target file that fails validation: names the file, line and key. */
export class ConfigError extends AshyqError {
  readonly file: string;
  readonly line: number | undefined;
  readonly key: string | undefined;
  constructor(file: string, line: number | undefined, key: string | undefined, problem: string) {
    const where = `${file}${line !== undefined ? `:${line}` : ''}`;
    super('ASHYQ_ERR_CONFIG', `${where}: ${key !== undefined ? `${key}: ` : ''}${problem}`);
    this.file = file;
    this.line = line;
    this.key = key;
  }
}

/** Several config problems found in one file, reported together. */
export class ConfigErrors extends AshyqError {
  readonly errors: ConfigError[];
  constructor(errors: ConfigError[]) {
    super('ASHYQ_ERR_CONFIG', errors.map((e) => e.message).join('\n'));
    this.errors = errors;
  }
}

/** A caller passed something the code cannot work with (a bug, not a network failure). */
export class InvalidArgumentError extends AshyqError {
  constructor(message: string) {
    super('ASHYQ_ERR_INVALID_ARG', message);
  }
}

/** A measurement run was cancelled through its AbortSignal. */
export class RunAbortedError extends AshyqError {
  constructor() {
    super('ASHYQ_ERR_ABORTED', 'the measurement run was aborted');
  }
}

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

/** Another daemon already uses this state directory (one process owns a spool). */
export class StateLockedError extends AshyqError {
  readonly stateDir: string;
  constructor(stateDir: string, holder = 'ashyq-probe daemon') {
    super('ASHYQ_ERR_STATE_LOCKED', `${stateDir}: another ${holder} is running with this directory`);
    this.stateDir = stateDir;
  }
}
