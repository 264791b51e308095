// Bounded memory of recently seen batch signatures: the same signed request is answered once.

export class ReplayCache {
  /** signature → epoch ms after which its timestamp is outside the skew window anyway. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly maxEntries = 200_000) {}

  has(signature: string, now: number): boolean {
    const expires = this.seen.get(signature);
    return expires !== undefined && expires >= now;
  }

  /** Remember a signature until `expiresAt` (timestamp + skew). */
  remember(signature: string, expiresAt: number, now: number): void {
    this.prune(now);
    this.seen.set(signature, expiresAt);
  }

  get size(): number {
    return this.seen.size;
  }

  private prune(now: number): void {
    // Insertion order is roughly expiry order (timestamps are within ±skew of arrival).
    for (const [signature, expires] of this.seen) {
      if (expires >= now && this.seen.size < this.maxEntries) break;
      this.seen.delete(signature);
    }
  }
}
