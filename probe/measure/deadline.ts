// A step deadline: one AbortSignal that fires when a step's time runs out or the caller aborts.
import { InvalidArgumentError } from '../../common/errors.js';

/** The error a step ends with when its deadline passes: data (generic_timeout_error), never thrown out. */
export class StepTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(step: string, timeoutMs: number) {
    super(`${step} timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

export interface Deadline {
  /** Aborted with a StepTimeoutError when time runs out, or with the parent's reason when it aborts. */
  readonly signal: AbortSignal;
  /** The caller's signal fired: the step must clean up and reject with `parent.reason`. */
  cancelled(): boolean;
  /** Stop the timer and detach from the parent; idempotent. */
  dispose(): void;
}

/** Throws when `timeoutMs` cannot be a step timeout (a programming or config fault). */
export function checkTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidArgumentError(`timeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
  }
}

/**
 * Start a deadline for one step. Uses setTimeout (not AbortSignal.timeout) so that fake timers
 * drive it in tests.
 */
export function startDeadline(step: string, timeoutMs: number, parent: AbortSignal | undefined): Deadline {
  checkTimeout(timeoutMs);
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent?.reason);
  const timer = setTimeout(() => {
    controller.abort(new StepTimeoutError(step, timeoutMs));
  }, timeoutMs);
  if (parent) {
    if (parent.aborted) {
      clearTimeout(timer);
      controller.abort(parent.reason);
    } else parent.addEventListener('abort', onParentAbort, { once: true });
  }
  return {
    signal: controller.signal,
    cancelled: () => parent?.aborted === true,
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}
