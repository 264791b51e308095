// The probe's software version, read from the package manifest (recorded in every measurement).
export { version } from '../common/version.js';
