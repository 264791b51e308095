// Loads undici on first use, through the smallest entry points a step needs (the full package costs ~20 MB of RSS).
//
// `import ... from 'undici'` evaluates every part of undici (fetch, WebSocket, caches, mocks, proxy
// agents...) when the probe starts, whether or not an HTTP step ever runs. The HTTP measurement needs
// only Client and the request API, and DoH needs Agent: each is required here when the step runs.
// undici has no `exports` map, so its files can be required by path; should a future version move
// them, the full entry point is used instead (same behaviour, more memory).
import { createRequire } from 'node:module';
import type { Agent, Client, Dispatcher } from 'undici';

const require = createRequire(import.meta.url);

type RequestOptions = Dispatcher.RequestOptions;
type ResponseData = Dispatcher.ResponseData;

export interface HttpClientApi {
  Client: typeof Client;
  /** `dispatcher.request(options)`, without relying on undici's entry point having extended Dispatcher. */
  request(dispatcher: Dispatcher, options: RequestOptions): Promise<ResponseData>;
}

export interface DohApi {
  Agent: typeof Agent;
  /** undici's top-level `request(url, options)`. */
  request(url: string, options: Omit<RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher }): Promise<ResponseData>;
}

function isModuleNotFound(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND';
}

/**
 * undici's Client and request API only (its HTTP/1.1 client, without fetch and the rest).
 * `load` is the require() used (tests replace it).
 */
export function loadHttpClient(load: (id: string) => unknown = require): HttpClientApi {
  let Client: typeof import('undici').Client;
  let request: (this: Dispatcher, options: RequestOptions) => Promise<ResponseData>;
  try {
    Client = load('undici/lib/dispatcher/client.js') as typeof Client;
    request = load('undici/lib/api/api-request.js') as typeof request;
  } catch (err) {
    if (!isModuleNotFound(err)) throw err;
    const undici = load('undici') as typeof import('undici');
    return { Client: undici.Client, request: (dispatcher, options) => dispatcher.request(options) };
  }
  return { Client, request: (dispatcher, options) => request.call(dispatcher, options) };
}

/** undici's Agent and request(url): only DoH needs them, so only a run with a DoH resolver loads them. */
export function loadDoh(load: (id: string) => unknown = require): DohApi {
  const undici = load('undici') as typeof import('undici');
  return { Agent: undici.Agent, request: (url, options) => undici.request(url, options) };
}
