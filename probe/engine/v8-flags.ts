// V8 settings of a probe process, chosen for a small memory footprint; applied by bin/ashyq-probe.js before anything else runs.
//
// A measuring run is I/O-bound: it waits on hundreds of sockets and computes little. V8's defaults
// are tuned for throughput, and two of them cost a probe more memory than anything it measures:
//
// * --wasm-tiering-budget=2147483647: undici parses HTTP with llhttp compiled to WebAssembly. Once a
//   few responses have been parsed, V8 recompiles its large state machine with TurboFan in the
//   background, which takes ~25 MB of RSS for a moment and more CPU than the parsing saves. A budget
//   that is never used up keeps the code on Liftoff (V8's baseline wasm compiler), which parses a
//   probe's few kilobytes of headers just as well. The flag only concerns wasm.
// * --semi-space-growth-factor=1: the young generation starts at 1 MB per semi-space and doubles
//   (up to 16 MB) whenever enough objects survive collections, which a run with hundreds of
//   connections in flight always does: ~15 MB more heap. A growth factor of 1 keeps it at its
//   starting size (what --max-semi-space-size=1 does at startup, which cannot be set from inside a
//   running process). The price is more frequent scavenges: no measurable CPU on a run of 200
//   targets, a few tenths of a second of wall time at most when every target is reachable.
//
// Both are read by V8 when it compiles a wasm module or grows the young generation, so setting them
// at the start of the process is enough; a V8 that ignores one loses the saving, nothing else
// (test/engine-v8-flags.test.ts notices). NODE_OPTIONS given by the service (e.g.
// --max-semi-space-size) still apply: these only keep the young generation at its starting size.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

export const PROBE_V8_FLAGS: readonly string[] = ['--wasm-tiering-budget=2147483647', '--semi-space-growth-factor=1'];

/** Apply PROBE_V8_FLAGS to this process (idempotent). Call before the engine is imported. */
export function applyProbeV8Flags(): void {
  for (const flag of PROBE_V8_FLAGS) v8.setFlagsFromString(flag);
}

let fullGc: (() => void) | null | undefined;

/**
 * A full garbage collection, for a daemon that has finished a run and will idle until the next:
 * V8 then gives the pages a run's hundreds of connections used back to the system instead of
 * keeping them for a next allocation burst that is an hour away. A no-op where V8 refuses.
 */
export function releaseMemoryAfterRun(): void {
  if (fullGc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      fullGc = runInNewContext('gc') as () => void;
    } catch {
      fullGc = null;
    }
  }
  fullGc?.();
}
