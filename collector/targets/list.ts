// The collector's target list: loaded once with the probe's loader, served with an ETag, used to validate uploads.
import { createHash } from 'node:crypto';
import { loadTargets, packagedTargetsPath, TARGETS_VERSION } from '../../contract/target-list.js';
import type { Target } from '../../contract/target.js';
import { COLLECTOR_TARGET, type SurgeAnswer } from '../../contract/wire.js';

export interface TargetList {
  targets: readonly Target[];
  /** The targets by id, plus COLLECTOR_TARGET (accepted in uploads, never served). */
  byId: ReadonlyMap<string, Target>;
  /** The JSON served by GET /api/v1/targets (the target-file format `{ version, targets }`, plus `surge` when one is asked for). */
  body: string;
  /** Strong ETag of `body`. */
  etag: string;
}

/** The collector itself as a target: what a probe's `tls.interception` measurement of the upload channel names. */
export const COLLECTOR_SELF: Target = {
  id: COLLECTOR_TARGET.id,
  name: 'ashyq collector (the probe upload channel)',
  category: COLLECTOR_TARGET.category,
  domains: [],
  endpoints: [],
  ports: [],
  tls_ports: [],
  http: null,
};

/** The list served to probes; `surge` asks them to measure some targets more often for a while. */
export function targetList(targets: readonly Target[], surge: SurgeAnswer | null = null): TargetList {
  const body = JSON.stringify({ version: TARGETS_VERSION, targets, ...(surge !== null ? { surge } : {}) });
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
  const byId = new Map<string, Target>([[COLLECTOR_SELF.id, COLLECTOR_SELF]]);
  for (const t of targets) byId.set(t.id, t);
  return { targets, byId, body, etag };
}

/** Load `file`, or the targets.yaml shipped with the package when null. */
export async function loadTargetList(file: string | null): Promise<TargetList> {
  return targetList(await loadTargets(file ?? packagedTargetsPath()));
}

/** Whether an If-None-Match header value matches `etag` (weak comparison, as RFC 9110 asks for GET). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag));
}
