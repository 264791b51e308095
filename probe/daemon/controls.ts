// The control vantage's evidence for a run: fetched from the collector over the pinned channel at the start of each run.
import { CONTROL_MAX_AGE_MS, type ControlSet } from '../engine/options.js';
import { redactAddresses } from '../redact.js';
import type { CollectorClient } from '../upload/client.js';
import { errorText, type Log } from './log.js';

/** How long a run waits for the control evidence before it is judged without it. */
export const CONTROL_FETCH_TIMEOUT_MS = 15_000;

/**
 * The collector's latest control evidence per target, for one run; undefined when the collector has
 * no control vantage (none is expected: verdicts stand as they are). Never throws: when it cannot be
 * had, the run is judged without it and every block says why (a lower confidence, see judgeRun).
 */
export async function fetchControlSet(
  client: Pick<CollectorClient, 'fetchControls'>,
  log: Log,
  maxAgeMs = CONTROL_MAX_AGE_MS,
  timeoutMs = CONTROL_FETCH_TIMEOUT_MS,
): Promise<ControlSet | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const items = await Promise.race([
      client.fetchControls(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
    if (items === null) return undefined;
    return { byTarget: new Map(items.map((i) => [i.target, { id: i.id, at: Date.parse(i.at), evidence: i.evidence }])), maxAgeMs, missing: null };
  } catch (err) {
    const why = errorText(err);
    log('warn', `control evidence: ${why}; this run is judged without it`);
    // Kept in every block's reason: no address (of a proxy, say) goes into the evidence.
    return { byTarget: new Map(), maxAgeMs, missing: `the collector's control evidence could not be fetched: ${redactAddresses(why)}` };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * fetchControlSet for a daemon's runs, remembering whether the collector has a control vantage: when
 * it said it has none, a failed fetch later expects none either (verdicts stand as they are).
 */
export class ControlFetcher {
  #expected: boolean | null = null;

  constructor(
    private readonly client: Pick<CollectorClient, 'fetchControls'>,
    private readonly log: Log,
    private readonly maxAgeMs = CONTROL_MAX_AGE_MS,
    private readonly timeoutMs = CONTROL_FETCH_TIMEOUT_MS,
  ) {}

  async forRun(): Promise<ControlSet | undefined> {
    const set = await fetchControlSet(this.client, this.log, this.maxAgeMs, this.timeoutMs);
    if (set === undefined) this.#expected = false;
    else if (set.missing === null) this.#expected = true;
    else if (this.#expected === false) return undefined;
    return set;
  }
}
