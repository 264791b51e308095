// `ashyq-collector simulate --out DIR`: a synthetic fleet's month as archive segments, with truth.json (the scripted events), to replay with `import`.
import { writeSimulation, type SimOptions } from '../events/simulate.js';
import { InputError, type Output } from './output.js';

export interface SimulateArgs {
  out?: string;
  days?: string;
  probes?: string;
  seed?: string;
}

function wholeNumber(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) throw new InputError(`--${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return Number(value);
}

export async function runSimulate(args: SimulateArgs, stdout: Output): Promise<number> {
  if (args.out === undefined || args.out === '') throw new InputError('simulate: --out DIR is required (where the segments and truth.json are written)');
  const options: Partial<SimOptions> = {};
  const days = wholeNumber('days', args.days, 1, 366);
  const probes = wholeNumber('probes', args.probes, 5, 10_000);
  const seed = wholeNumber('seed', args.seed, 0, 2 ** 31);
  if (days !== undefined) options.days = days;
  if (probes !== undefined) options.probes = probes;
  if (seed !== undefined) options.seed = seed;
  const result = await writeSimulation(args.out, options);
  stdout.write(
    `ashyq-collector: ${result.records} measurements in ${result.segments.length} segments, ${result.truth.events.length} scripted events (truth.json) -> ${args.out}\n` +
      `  replay them: ashyq-collector import ${args.out}/*.jsonl*\n`,
  );
  return 0;
}
