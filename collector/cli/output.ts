// What every command of the collector's command line shares: where it writes, and the error for a bad option value.
import { UsageError } from '../errors.js';

export interface Output {
  write(text: string): unknown;
}

/** A bad value given to an option: the message names the option; the help text is not repeated. */
export class InputError extends UsageError {}
