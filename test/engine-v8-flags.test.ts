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

describe('probe V8 flags', () => {
  it('names only flags this V8 knows (an unknown one would be ignored)', async () => {
    const { stdout } = await run(process.execPath, ['--v8-options'], { maxBuffer: 16 * 1024 * 1024 });
    expect(PROBE_V8_FLAGS.length).toBeGreaterThan(0);
    for (const flag of PROBE_V8_FLAGS) expect(stdout).toContain(`\n  ${flag.split('=')[0]} (`);
  });

  it('keep the young generation at its starting size (2 MiB) under load, where it otherwise grows', async () => {
    const [plain, probe] = await Promise.all([youngGenerationBytes([]), youngGenerationBytes(PROBE_V8_FLAGS)]);
    expect(plain).toBeGreaterThanOrEqual(8 * MiB);
    expect(probe).toBeLessThanOrEqual(2 * MiB);
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
