// The probe's V8 settings still take effect when set from inside a running process (a Node upgrade could silently drop them).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import { describe, expect, it, vi } from 'vitest';
import { applyProbeV8Flags, PROBE_V8_FLAGS } from '../probe/engine/v8-flags.js';

const run = promisify(execFile);

/**
 * A fresh node process (plain JavaScript: nothing loaded before the flags) that sets the given V8
 * flags the way applyProbeV8Flags() does, then keeps many objects alive for a while and prints the
 * young generation's size (both semi-spaces).
 */
const CHILD = `
import v8 from 'node:v8';
for (const flag of process.argv.slice(1)) v8.setFlagsFromString(flag);
const keep = [];
for (let i = 0; i < 1_000_000; i++) {
  keep.push({ i, list: [i] });
  if (keep.length > 100_000) keep.splice(0, 50_000);
}
process.stdout.write(String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size));
`;

async function youngGenerationBytes(flags: readonly string[]): Promise<number> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD, '--', ...flags]);
  return Number(stdout);
}

const MiB = 1024 * 1024;

/**
 * A fresh node process that sets the given flags, then runs a hot WebAssembly loop and a hot
 * JavaScript loop with V8's compiler tracing on, and prints that trace (what got compiled how).
 * The wasm module is one exported function f(n) = n + (n-1) + … + 1, written out byte by byte.
 */
const HOT_CHILD = `
import v8 from 'node:v8';
for (const flag of process.argv.slice(1)) v8.setFlagsFromString(flag);
for (const flag of ['--trace-wasm-compilation-times', '--trace-opt', '--trace-baseline-batch-compilation']) v8.setFlagsFromString(flag);
const wasm = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
  0x03, 0x02, 0x01, 0x00,
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,
  0x0a, 0x23, 0x01, 0x21, 0x01, 0x01, 0x7f,
  0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x45, 0x0d, 0x01,
  0x20, 0x01, 0x20, 0x00, 0x6a, 0x21, 0x01,
  0x20, 0x00, 0x41, 0x01, 0x6b, 0x21, 0x00,
  0x0c, 0x00, 0x0b, 0x0b, 0x20, 0x01, 0x0b,
]);
const { instance } = await WebAssembly.instantiate(wasm);
function hot(n) { let s = 0; for (let i = 0; i < n; i++) s += (i * 7) % 13; return s; }
let sum = 0;
for (let i = 0; i < 100; i++) {
  sum += instance.exports.f(100_000) + hot(10_000);
  await new Promise((resolve) => setImmediate(resolve));
}
// Tier-up compiles in the background: give it time to finish and be traced.
await new Promise((resolve) => setTimeout(resolve, 1000));
console.log('sum', sum);
`;

async function compilerTrace(flags: readonly string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', HOT_CHILD, '--', ...flags], { maxBuffer: 16 * 1024 * 1024 });
  expect(stdout).toMatch(/^sum \d+$/m);
  return stdout;
}

describe('probe V8 flags', () => {
  it('names only flags this V8 knows (an unknown one would be ignored)', async () => {
    const { stdout } = await run(process.execPath, ['--v8-options'], { maxBuffer: 16 * 1024 * 1024 });
    expect(PROBE_V8_FLAGS.length).toBeGreaterThan(0);
    // A boolean flag is listed as --name; --no-name turns it off.
    for (const flag of PROBE_V8_FLAGS) expect(stdout).toContain(`\n  ${flag.split('=')[0]!.replace(/^--no-/, '--')} (`);
  });

  it('keep the young generation at its starting size (2 MiB) under load, where it otherwise grows', async () => {
    const [plain, probe] = await Promise.all([youngGenerationBytes([]), youngGenerationBytes(PROBE_V8_FLAGS)]);
    expect(plain).toBeGreaterThanOrEqual(8 * MiB);
    expect(probe).toBeLessThanOrEqual(2 * MiB);
  }, 30_000);

  it('keep WebAssembly on Liftoff and JavaScript in the interpreter, where V8 otherwise compiles both with TurboFan', async () => {
    // Small tiering budgets make V8 want to optimise early and often (a busy machine then still sees
    // the control tier up before the child ends); the probe's flags must hold even so.
    const eager = ['--wasm-tiering-budget=1000', '--interrupt-budget=1000'];
    const [plain, probe] = await Promise.all([compilerTrace(eager), compilerTrace([...eager, ...PROBE_V8_FLAGS])]);
    // V8's defaults: the hot wasm function and the hot JavaScript function are recompiled.
    // (Background compiler threads print into the same stream: trace lines may interleave.)
    expect(plain).toMatch(/using TurboFan/);
    expect(plain).toMatch(/target TURBOFAN/);
    // The probe's: wasm compiled once by Liftoff and never again; no JavaScript compiled to machine code.
    expect(probe).toMatch(/using Liftoff/);
    expect(probe).not.toMatch(/using TurboFan/);
    expect(probe).not.toMatch(/TURBOFAN|MAGLEV/);
    expect(probe).not.toMatch(/Baseline batch compilation/);
  }, 30_000);

  it('are what applyProbeV8Flags sets', () => {
    const set = vi.spyOn(v8, 'setFlagsFromString').mockImplementation(() => undefined);
    try {
      applyProbeV8Flags();
      expect(set.mock.calls.map(([flag]) => flag)).toEqual([...PROBE_V8_FLAGS]);
    } finally {
      set.mockRestore();
    }
  });
});
