// Probes an operator revoked: from when their measurements stop counting (aggregates, InfluxDB series, events); the archive keeps them.
import type { RecordDigest } from './record-digest.js';

/** probe id → epoch ms from which its measurements (by their own start time) do not count. */
export class ProbeExclusions {
  static readonly none = new ProbeExclusions(new Map());

  constructor(private readonly from: ReadonlyMap<string, number>) {}

  get size(): number {
    return this.from.size;
  }

  /** When `probeId`'s measurements stop counting (epoch ms), or null. */
  excludedFrom(probeId: string): number | null {
    return this.from.get(probeId) ?? null;
  }

  /** Whether a measurement of `probeId` started at `startedAt` (ISO) counts. */
  counts(probeId: string, startedAt: string): boolean {
    const from = this.from.get(probeId);
    return from === undefined || Date.parse(startedAt) < from;
  }

  /** The records (or digests) of `list` that count; the list itself when all do. */
  keep<T extends RecordDigest>(list: readonly T[]): readonly T[] {
    if (this.from.size === 0) return list;
    let all = true;
    for (const r of list) if (!this.counts(r.probe_id, r.measurement.started_at)) all = false;
    return all ? list : list.filter((r) => this.counts(r.probe_id, r.measurement.started_at));
  }
}
