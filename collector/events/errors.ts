// Error classes of the event detector, each with a stable code.
import { AshyqError } from './contract.js';

/** A detector option is missing its type or range: names the option. */
export class DetectorConfigError extends AshyqError {
  readonly option: string;
  constructor(option: string, problem: string) {
    super('ASHYQ_ERR_EVENTS_CONFIG', `event detector option ${option}: ${problem}`);
    this.option = option;
  }
}

/** A serialised detector state that cannot be restored (wrong version, wrong shape). */
export class DetectorStateError extends AshyqError {
  constructor(problem: string) {
    super('ASHYQ_ERR_EVENTS_STATE', `event detector state: ${problem}`);
  }
}
