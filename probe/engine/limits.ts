// Concurrency limits for one run: a global p-queue, a bound on busy handshakes and requests, and one small queue per remote host.
//
// Most of a run is waiting: DNS listen windows, connects to blackholed addresses. Those are cheap and
// get the whole global limit. A TLS handshake or an HTTP request that is moving is where the memory
// goes (OpenSSL state, the peer chain and its parsing, undici's parser, the body): on a network where
// every target gets that far, a hundred of them at once hold tens of megabytes. So at most
// `handshakes.concurrency` of them may be busy together. One that is still running after
// `handshakes.holdMs` is waiting on the network (a censor stalling the ClientHello, a slow body),
// which costs little: it gives its handshake slot to the next one and carries on, so that a run in
// which many handshakes stall until their timeout is not made several timeouts longer.
import PQueue from 'p-queue';

export interface HandshakeLimit {
  /** Handshakes and requests started at most `holdMs` ago that may run at once. */
  concurrency: number;
  /** How long one keeps its handshake slot at most (it keeps its global and per-host slots). */
  holdMs: number;
}

export class RunLimits {
  readonly #global: PQueue;
  readonly #handshakes: PQueue | null;
  readonly #holdMs: number;
  readonly #perHost = new Map<string, PQueue>();
  readonly #perHostConcurrency: number;

  /** Without `handshakes`, handshakes and requests are bounded like any other step. */
  constructor(concurrency: number, perHostConcurrency: number, handshakes?: HandshakeLimit) {
    this.#global = new PQueue({ concurrency });
    this.#handshakes = handshakes ? new PQueue({ concurrency: handshakes.concurrency }) : null;
    this.#holdMs = handshakes?.holdMs ?? 0;
    this.#perHostConcurrency = perHostConcurrency;
  }

  /** Run `task` once both a global slot and a slot for `host` are free (host null: global only). */
  run<T>(host: string | null, task: () => Promise<T>): Promise<T> {
    const global = this.#global;
    return this.#forHost(host, () => global.add(task));
  }

  /**
   * Run a TLS handshake or an HTTP request: like run(), once a handshake slot is free too. The
   * handshake slot is taken first, so that tasks waiting for one hold no global slot that a cheap step
   * could use; it is given back when the task settles or `holdMs` after the task started, whichever
   * comes first.
   */
  runHandshake<T>(host: string, task: () => Promise<T>): Promise<T> {
    const handshakes = this.#handshakes;
    if (handshakes === null) return this.run(host, task);
    const global = this.#global;
    const holdMs = this.#holdMs;
    return this.#forHost(
      host,
      () =>
        new Promise<T>((resolve, reject) => {
          void handshakes.add(
            () =>
              new Promise<void>((release) => {
                let timer: NodeJS.Timeout | undefined;
                global
                  .add(() => {
                    timer = setTimeout(release, holdMs);
                    return task();
                  })
                  .then(resolve, reject)
                  .finally(() => {
                    clearTimeout(timer);
                    release();
                  });
              }),
          );
        }),
    );
  }

  #forHost<T>(host: string | null, task: () => Promise<T>): Promise<T> {
    if (host === null) return task();
    let queue = this.#perHost.get(host);
    if (!queue) {
      queue = new PQueue({ concurrency: this.#perHostConcurrency });
      this.#perHost.set(host, queue);
    }
    return queue.add(task);
  }

  /** Drop everything not yet started (used on abort). */
  clear(): void {
    this.#global.clear();
    this.#handshakes?.clear();
    for (const q of this.#perHost.values()) q.clear();
  }
}
