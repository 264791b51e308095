// The daemon's control evidence for a run: fetched from the collector, never a reason for the run to fail.
import { describe, expect, it } from 'vitest';
import { ControlFetcher, fetchControlSet } from '../probe/daemon/controls.js';
import { CONTROL_MAX_AGE_MS } from '../probe/engine/options.js';
import { healthy, target } from './classify-builders.js';

const facebook = target({ id: 'facebook', domains: ['www.facebook.com'] });
const logs: string[] = [];
const log = (level: string, message: string) => void logs.push(`${level} ${message}`);

describe('fetchControlSet', () => {
  it('the collector has no control vantage: none expected (undefined), nothing logged', async () => {
    logs.length = 0;
    expect(await fetchControlSet({ fetchControls: async () => null }, log)).toBeUndefined();
    expect(logs).toEqual([]);
  });

  it('the controls by target, with the bound on their age', async () => {
    const at = '2024-05-09T06:50:00.000Z';
    const set = await fetchControlSet({ fetchControls: async () => [{ target: 'facebook', id: 'c1', at, evidence: healthy(facebook) }] }, log);
    expect(set?.maxAgeMs).toBe(CONTROL_MAX_AGE_MS);
    expect(set?.missing).toBeNull();
    expect(set?.byTarget.get('facebook')).toMatchObject({ id: 'c1', at: Date.parse(at) });
    // collector.control_max_age_minutes of the probe's config: the bound the run applies.
    const bounded = await fetchControlSet({ fetchControls: async () => [] }, log, 90 * 60_000);
    expect(bounded?.maxAgeMs).toBe(90 * 60_000);
    const failed = await fetchControlSet({ fetchControls: async () => Promise.reject(new Error('down')) }, () => {}, 90 * 60_000);
    expect(failed?.maxAgeMs).toBe(90 * 60_000);
  });

  it('a failed or silent fetch: an empty set that says why, and a warning; the run goes on', async () => {
    logs.length = 0;
    const failed = await fetchControlSet({ fetchControls: async () => Promise.reject(new Error('connect ECONNREFUSED')) }, log);
    expect([failed?.byTarget.size, failed?.missing]).toEqual([0, "the collector's control evidence could not be fetched: connect ECONNREFUSED"]);
    const proxied = await fetchControlSet({ fetchControls: async () => Promise.reject(new Error('connect ECONNREFUSED 192.168.1.20:1080')) }, log);
    expect(proxied?.missing).toBe("the collector's control evidence could not be fetched: connect ECONNREFUSED [address]:1080");
    const silent = await fetchControlSet({ fetchControls: () => new Promise(() => {}) }, log, CONTROL_MAX_AGE_MS, 50);
    expect(silent?.missing).toMatch(/no answer within 0\.05 s/);
    expect(logs.every((l) => l.startsWith('warn control evidence: '))).toBe(true);
    expect(logs).toHaveLength(3);
  });
});

describe('ControlFetcher', () => {
  it('once the collector said it has no control vantage, a failed fetch expects none either; before that, it says the control is missing', async () => {
    let answer: 'none' | 'fail' = 'fail';
    const client = { fetchControls: async () => (answer === 'none' ? null : Promise.reject(new Error('connect ETIMEDOUT'))) };
    const fetcher = new ControlFetcher(client, () => {});
    expect((await fetcher.forRun())?.missing).toMatch(/ETIMEDOUT/);
    answer = 'none';
    expect(await fetcher.forRun()).toBeUndefined();
    answer = 'fail';
    expect(await fetcher.forRun()).toBeUndefined();
  });
});
