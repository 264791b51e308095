// Reindex: rewind followers and replay the whole archive, the source of truth, through them (the server stopped).
import type { Follower } from './follower.js';

/**
 * Forget what each follower derived and rebuild it from the whole archive, one after the other.
 * For followers that are caught up when `start` resolves (the store's index, the event detector).
 */
export async function reindex(followers: readonly Follower[]): Promise<void> {
  for (const follower of followers) {
    await follower.rewind();
    await follower.start();
    await follower.stop();
  }
}
