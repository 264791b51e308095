// The one place the event detector imports the rest of the project from (re-pointed here when files move).
export type { Measurement, ProbeInfo } from '../../contract/measurement.js';
export { MEASUREMENT_SCHEMA } from '../../contract/measurement.js';
export type { Verdict, Layer, Decision, Scope } from '../../contract/verdict.js';
export { isBlocked, LAYERS, VERDICTS } from '../../contract/verdict.js';
export type { Category, Target } from '../../contract/target.js';
export { CATEGORIES } from '../../contract/target.js';
export type { Evidence } from '../../contract/evidence.js';
export type { Clock } from '../../common/clock.js';
export { AshyqError, InvalidArgumentError } from '../../common/errors.js';
export type { ArchivedRecord } from '../storage/archive.js';
export type { RecordDigest } from '../storage/record-digest.js';
export { Archive, utcDay, verdictOf } from '../storage/archive.js';
export { explainMeasurement } from '../ingest/validate.js';
