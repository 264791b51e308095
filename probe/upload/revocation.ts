// The collector's revocation of this probe: recognised in an error answer (403 with the wire code probe_revoked) and kept as what was seen, when.
//
// A revoked probe id stays revoked (the collector has no way back for it), so once one answer says
// so nothing more is sent to that collector until the daemon restarts: every retry would be refused
// the same way. The collector states its own time of the revocation only in its message, so the
// record holds the message as given and the time the probe saw it.
import type { BatchErrorCode } from '../../contract/wire.js';

export const REVOKED_CODE: BatchErrorCode = 'probe_revoked';
export const REVOKED_STATUS = 403;

/** The longest reason kept from the collector's message (it goes into one log line and the status). */
const MAX_REASON_CHARS = 300;

export interface Revocation {
  /** When the probe got the answer (ISO 8601 UTC). */
  seen_at: string;
  /** The collector's message, on one line, e.g. "the operator revoked this probe at …: its uploads are refused". */
  reason: string;
}

/** The collector's message as one bounded line: control characters and line breaks become spaces. */
export function reasonText(message: string): string {
  const line = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (line === '') return 'no reason given';
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS - 1)}…` : line;
}

/**
 * The revocation an answer carries, or null: only a 403 whose body is the collector's
 * `{ error: { code: "probe_revoked", message } }` is one (another 403, say a proxy's or a captive
 * portal's page, is an ordinary failure and retried as before).
 */
export function revocationIn(status: number, error: { code: string; message: string } | null, now: number): Revocation | null {
  if (status !== REVOKED_STATUS || error === null || error.code !== REVOKED_CODE) return null;
  return { seen_at: new Date(now).toISOString(), reason: reasonText(error.message) };
}
