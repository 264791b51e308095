// The one place the event detector imports the rest of the project from (re-pointed here when files move).
export type { Measurement, ProbeInfo } from '../../contract/measurement.js';
export { MEASUREMENT_SCHEMA } from '../../contract/measurement.js';
export type { Verdict, Layer, Decision } from '../../contract/verdict.js';
export { isBlocked, LAYERS, VERDICTS } from '../../contract/verdict.js';
export type { Category, Target } from '../../contract/target.js';
export { CATEGORIES } from '../../contract/target.js';
export type { Evidence } from '../../contract/evidence.js';
export type { Clock } from '../../common/clock.js';
export { AshyqError, InvalidArgumentError } from '../../common/errors.js';
export type { ArchivedRecord } from '../storage/archive.js';
export { Archive, utcDay } from '../storage/archive.js';
export { explainMeasurement } from '../ingest/validate.js';

import type { Verdict } from '../../contract/verdict.js';

/**
 * Verdicts DESIGN.md names that probe/verdict.ts does not list yet (http.reset, http.timeout,
 * http.throttled). The detector accepts them so it works unchanged once the classifier emits them.
 */
export const FUTURE_VERDICTS = ['http.reset', 'http.timeout', 'http.throttled'] as const;
export type ObservedVerdict = Verdict | (typeof FUTURE_VERDICTS)[number];

/** Where a verdict applies (DESIGN.md): every endpoint of the target, or only some (Telegram's DCs). */
export type Scope = 'full' | 'partial';
