// The injected clock: wall time for timestamps, monotonic time for durations.

export interface Clock {
  /** Wall-clock time, epoch milliseconds (timestamps). */
  now(): number;
  /** Monotonic milliseconds (durations, RTTs). */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};
