// What the volunteer is told when the collector revoked this probe: the daemon's one log line and the status rows, from the same words.
import type { Revocation } from '../upload/revocation.js';

export interface RevocationFacts {
  /** The collector's URL. */
  collector: string;
  probeId: string;
  revocation: Revocation;
  /** Measurements in the spool. */
  waiting: number;
  /** Where identity.json and key.pem are (the daemon's state_dir). */
  stateDir: string;
}

/** e.g. `1 measurement stays`, `12 measurements stay`. */
function stayInSpool(n: number): string {
  return n === 1 ? '1 measurement stays in the spool' : `${n} measurements stay in the spool`;
}

/**
 * What to do: the operator knows why; `setup` alone would enroll the same (revoked) identity again,
 * so a new probe needs the identity files moved away first.
 */
export function revocationAdvice(stateDir: string): string {
  return (
    "Ask the collector's operator, or enroll again as a new probe with a new invite: move identity.json and key.pem out of " +
    `${stateDir}, then run ashyq-probe setup INVITE (setup alone keeps the revoked identity)`
  );
}

/** What stopped, and what is kept (`running`: the daemon is still up; else it has stopped since). */
export function revocationEffect(waiting: number, running = true): string {
  const stopped = running ? 'uploads and measuring stopped until the daemon restarts (it stays up, idle)' : 'uploads and measuring stopped; a restart of the daemon asks the collector again';
  return `${stopped}; ${stayInSpool(waiting)}`;
}

/** The daemon's log line, said once (one line: no line break whatever the collector wrote). */
export function revocationNotice(f: RevocationFacts): string {
  return `the collector at ${f.collector} revoked this probe ${f.probeId} (${f.revocation.reason}): ${revocationEffect(f.waiting)}. ${revocationAdvice(f.stateDir)}`;
}
