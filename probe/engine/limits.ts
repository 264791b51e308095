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
//
// A TCP connect to a blackholed address is the same kind of wait: one pending socket, no data. A
// connect still pending after `connects.holdMs` gives its global slot back and waits on; at most
// `connects.maxOpen` connects are open at once, which bounds the sockets (and file descriptors) of a
// run. Without that, a run where more connects are blackholed than the global limit takes several
// timeouts (two ports per target double them).
import PQueue from 'p-queue';

export interface HandshakeLimit {
  /** Handshakes and requests started at most `holdMs` ago that may run at once. */
  concurrency: number;
  /** How long one keeps its handshake slot at most (it keeps its global and per-host slots). */
  holdMs: number;
}

export interface ConnectLimit {
  /** How long a connect keeps its global slot at most (it keeps its open-socket and per-host slots). */
  holdMs: number;
  /** Connects open at once at most, those past holdMs included. */
  maxOpen: number;
}

export class RunLimits {
  readonly #global: PQueue;
  readonly #open: PQueue | null;
  readonly #connectHoldMs: number;
  readonly #handshakes: PQueue | null;
  readonly #holdMs: number;
  readonly #perHost = new Map<string, PQueue>();
  readonly #perHostConcurrency: number;

  /** Without `handshakes`, handshakes and requests are bounded like any other step; without `connects`, so are connects. */
  constructor(concurrency: number, perHostConcurrency: number, handshakes?: HandshakeLimit, connects?: ConnectLimit) {
    this.#global = new PQueue({ concurrency });
    this.#open = connects ? new PQueue({ concurrency: Math.max(concurrency, connects.maxOpen) }) : null;
    this.#connectHoldMs = connects?.holdMs ?? 0;
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

  /**
   * Run a TCP connect: like run(), once an open-socket slot is free too (taken first). The global slot
   * is given back when the connect settles or `holdMs` after it started, whichever comes first.
   */
  runConnect<T>(host: string, task: () => Promise<T>): Promise<T> {
    const open = this.#open;
    if (open === null) return this.run(host, task);
    const global = this.#global;
    const holdMs = this.#connectHoldMs;
    return this.#forHost(host, () =>
      open.add(
        () =>
          new Promise<T>((resolve, reject) => {
            void global.add(
              () =>
                new Promise<void>((release) => {
                  const timer = setTimeout(release, holdMs);
                  task()
                    .then(resolve, reject)
                    .finally(() => {
                      clearTimeout(timer);
                      release();
                    });
                }),
            );
          }),
      ),
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
    this.#open?.clear();
    for (const q of this.#perHost.values()) q.clear();
  }
}
