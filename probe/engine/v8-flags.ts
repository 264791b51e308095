// V8 settings of a probe process, chosen for a small memory footprint; applied by bin/ashyq-probe.cjs before anything else runs.
//
// A measuring run is I/O-bound: it waits on hundreds of sockets and computes little (TLS, hashing,
// JSON and regular expressions run in native code). V8's defaults are tuned for throughput, and
// three of them cost a probe more memory than anything it measures:
//
// * --no-wasm-tier-up --no-wasm-dynamic-tiering: undici parses HTTP with llhttp compiled to
//   WebAssembly. By default V8 counts how much each wasm function runs and, once a budget is spent,
//   recompiles it with TurboFan in the background: for llhttp's large state machine that is ~30 MB of
//   compiler memory for a moment and a tenth of a second of CPU, and it leaves the C library's heap
//   fragmented for good (a few MB of RSS). A larger budget only postpones it: the budget counts bytes
//   of code executed, and a few hundred parsed responses (a few runs) spend even the largest. With
//   both flags off, wasm stays on Liftoff (V8's baseline compiler, lazily per function), which
//   parses a probe's few kilobytes of headers just as well. They only concern wasm.
// * --max-opt=0: JavaScript stays in V8's bytecode interpreter, compiled neither by Sparkplug nor by
//   TurboFan. Their machine code (~2 MB of code space that grows run after run), their compiler
//   memory and the pages of the node executable holding TurboFan (~1.5 MB) are what a daemon would
//   otherwise keep between runs. A run's JavaScript is short glue around native work: a run of 200
//   or 600 targets takes no more CPU than with the optimising compilers (bench/probe-cycle.ts), which
//   spend more compiling than they save. Regular expressions are still compiled to machine code.
// * --semi-space-growth-factor=1: the young generation starts at 1 MB per semi-space and doubles
//   (up to 16 MB) whenever enough objects survive collections, which a run with hundreds of
//   connections in flight always does: ~15 MB more heap. A growth factor of 1 keeps it at its
//   starting size (what --max-semi-space-size=1 does at startup, which cannot be set from inside a
//   running process). The price is more frequent scavenges: no measurable CPU on a run of 200
//   targets, a few tenths of a second of wall time at most when every target is reachable.
//
// All are read by V8 when it compiles a wasm module or a function, or grows the young generation,
// so setting them at the start of the process is enough; a V8 that ignores one loses the saving,
// nothing else (test/engine-v8-flags.test.ts notices). NODE_OPTIONS given by the service (e.g.
// --max-semi-space-size) still apply: these only keep the young generation at its starting size.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

export const PROBE_V8_FLAGS: readonly string[] = [
  '--no-wasm-tier-up',
  '--no-wasm-dynamic-tiering',
  '--max-opt=0',
  '--semi-space-growth-factor=1',
];

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
