// The collector's target list: loaded once with the probe's loader, served with an ETag, used to validate uploads.
import { createHash } from 'node:crypto';
import { loadTargets, packagedTargetsPath, TARGETS_VERSION } from '../probe/config/targets.js';
import type { Target } from '../probe/target.js';

export interface TargetList {
  targets: readonly Target[];
  byId: ReadonlyMap<string, Target>;
  /** The JSON served by GET /api/v1/targets (the target-file format: `{ version, targets }`). */
  body: string;
  /** Strong ETag of `body`. */
  etag: string;
}

export function targetList(targets: readonly Target[]): TargetList {
  const body = JSON.stringify({ version: TARGETS_VERSION, targets });
  const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
  return { targets, byId: new Map(targets.map((t) => [t.id, t])), body, etag };
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
