// Retry delays for the InfluxDB sink: exponential growth, capped, with jitter so that collectors do not retry in step.
import { InvalidArgumentError } from '../../../common/errors.js';

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  initialMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Growth per failed attempt. */
  factor: number;
  /** Uniform random number in [0, 1). */
  random: () => number;
}

/**
 * The wait after the `attempt`-th consecutive failure (1 = first): the exponential step
 * `initialMs * factor^(attempt-1)`, capped at `maxMs`, then "equal jitter": half of it fixed and
 * half random, so the delay lies in [step/2, step) and never exceeds `maxMs`.
 */
export function retryDelay(attempt: number, options: BackoffOptions): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new InvalidArgumentError(`retryDelay: attempt must be ≥ 1, got ${attempt}`);
  if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs) || !(options.factor >= 1)) {
    throw new InvalidArgumentError('retryDelay: need 0 < initialMs ≤ maxMs and factor ≥ 1');
  }
  const step = Math.min(options.maxMs, options.initialMs * options.factor ** Math.min(attempt - 1, 1000));
  const r = Math.min(Math.max(options.random(), 0), 1);
  return Math.round(step / 2 + (step / 2) * r);
}
