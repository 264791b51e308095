// Starting a worker thread from a module next to the caller: the built .js, or, when the program runs from its TypeScript sources (tests), the .ts through tsx.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * `moduleUrl` is the worker's module as `new URL('./x.js', import.meta.url)` names it. Built, that
 * file exists and is started as it is. Running from sources (import.meta.url ends in .ts), the
 * worker loads the .ts beside it through tsx's loader (a development dependency), which it
 * registers first: a plain Worker would not know the extension.
 */
export function startWorker(moduleUrl: URL, callerUrl: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(moduleUrl, options);
  const source = new URL(moduleUrl.href.replace(/\.js$/, '.ts'));
  const tsxApi = pathToFileURL(path.join(path.dirname(createRequire(callerUrl).resolve('tsx/package.json')), 'dist', 'esm', 'api', 'index.mjs')).href;
  const boot = `const { register } = await import(${JSON.stringify(tsxApi)}); register(); await import(${JSON.stringify(source.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), options);
}
