// The target list as served to one requester: the operator's surge combined with the event surge for the requester's network.
import type { SurgeAnswer } from '../../contract/wire.js';
import { combineSurges, type EventSurges, type RequesterNetwork } from './event-surge.js';
import { targetList, type TargetList } from './list.js';
import type { SurgeWatcher } from './surge.js';

/** Lists with a surge kept at most (a handful of networks and slots at a time). */
const MAX_VARIANTS = 64;

export class ServedTargets {
  readonly #surges: SurgeWatcher;
  readonly #events: EventSurges;
  readonly #base: TargetList;
  /** Lists with a surge (the operator's, an event surge or both), by their surge: each has its own body and ETag. */
  readonly #variants = new Map<string, TargetList>();

  constructor(options: { surges: SurgeWatcher; events: EventSurges; base: TargetList }) {
    this.#surges = options.surges;
    this.#events = options.events;
    this.#base = options.base;
  }

  /**
   * The list for a requester on `network` (null: not known): the plain list, or with the operator's
   * surge, the event surge for that network, or one surge made of both. A list is a pure function
   * of its surge: the same surge, the same body and ETag, whoever asks.
   */
  async list(network: RequesterNetwork | null): Promise<TargetList> {
    const current = await this.#surges.current();
    const operator: SurgeAnswer | null = current === null ? null : { targets: current.targets, interval_minutes: current.interval_minutes, until: current.until };
    const answer = combineSurges(operator, this.#events.surgeFor(network));
    return answer === null ? this.#base : this.#variant(answer);
  }

  #variant(surge: SurgeAnswer): TargetList {
    const key = JSON.stringify(surge);
    let list = this.#variants.get(key);
    if (list === undefined) {
      if (this.#variants.size >= MAX_VARIANTS) this.#variants.clear();
      list = targetList(this.#base.targets, surge);
      this.#variants.set(key, list);
    }
    return list;
  }
}
