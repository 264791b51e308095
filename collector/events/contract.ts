// The one place the event detector imports the rest of the project from (re-pointed here when files move).
export type { Measurement, ProbeInfo } from '../../probe/measurement.js';
export { MEASUREMENT_SCHEMA } from '../../probe/measurement.js';
export type { Verdict, Layer, Decision } from '../../probe/verdict.js';
export { VERDICTS, LAYERS } from '../../probe/verdict.js';
export type { Category, Target } from '../../probe/target.js';
export { CATEGORIES } from '../../probe/target.js';
export type { Evidence } from '../../probe/evidence.js';
export type { Clock } from '../../probe/deps.js';
export { AshyqError, InvalidArgumentError } from '../../probe/errors.js';
export type { ArchivedRecord } from '../archive.js';
export { Archive, utcDay } from '../archive.js';
export { explainMeasurement } from '../validate.js';

import type { Verdict } from '../../probe/verdict.js';

/**
 * Verdicts DESIGN.md names that probe/verdict.ts does not list yet (http.reset, http.timeout,
 * http.throttled). The detector accepts them so it works unchanged once the classifier emits them.
 */
export const FUTURE_VERDICTS = ['http.reset', 'http.timeout', 'http.throttled'] as const;
export type ObservedVerdict = Verdict | (typeof FUTURE_VERDICTS)[number];

/** Where a verdict applies (DESIGN.md): every endpoint of the target, or only some (Telegram's DCs). */
export type Scope = 'full' | 'partial';

const NOT_BLOCKED: ReadonlySet<string> = new Set(['ok', 'down', 'offline', 'inconclusive']);

/** Whether a verdict says the target is blocked (anything but ok, down, offline, inconclusive). */
export function isBlocked(verdict: string): boolean {
  return !NOT_BLOCKED.has(verdict);
}
