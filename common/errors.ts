// The error classes both programs share, each with a stable code; only programming and config faults throw.

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
  /** What is wrong, without the place. */
  readonly problem: string;
  constructor(file: string, line: number | undefined, key: string | undefined, problem: string) {
    const where = `${file}${line !== undefined ? `:${line}` : ''}`;
    super('ASHYQ_ERR_CONFIG', `${where}: ${key !== undefined ? `${key}: ` : ''}${problem}`);
    this.file = file;
    this.line = line;
    this.key = key;
    this.problem = problem;
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

/** Another daemon already uses this state directory (one process owns a spool). */
export class StateLockedError extends AshyqError {
  readonly stateDir: string;
  constructor(stateDir: string, holder = 'ashyq-probe daemon') {
    super('ASHYQ_ERR_STATE_LOCKED', `${stateDir}: another ${holder} is running with this directory`);
    this.stateDir = stateDir;
  }
}
