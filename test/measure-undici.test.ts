// Tests of the lazy undici loader: the HTTP step gets a working Client without undici's full entry point.
import { execFile } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDoh, loadHttpClient, type HttpClientApi } from '../probe/measure/undici.js';

const require = createRequire(import.meta.url);
const run = promisify(execFile);

let server: http.Server;
let origin: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function get(api: HttpClientApi, path: string): Promise<{ status: number; body: string }> {
  const client = new api.Client(origin);
  try {
    const response = await api.request(client, { path, method: 'GET' });
    return { status: response.statusCode, body: await response.body.text() };
  } finally {
    await client.close();
  }
}

describe('loadHttpClient', () => {
  it('gives a Client and request() that work over a real connection', async () => {
    await expect(get(loadHttpClient(), '/a')).resolves.toEqual({ status: 200, body: 'hello /a' });
  });

  it("loads neither undici's entry point nor fetch (checked in a fresh process)", async () => {
    const module = fileURLToPath(new URL('../probe/measure/undici.ts', import.meta.url));
    const child = `
      import { createRequire } from 'node:module';
      const { loadHttpClient } = await import(${JSON.stringify(module)});
      loadHttpClient();
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/undici/'));
      process.stdout.write(JSON.stringify(loaded));
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child]);
    const loaded = JSON.parse(stdout) as string[];
    expect(loaded.some((f) => f.endsWith('/undici/lib/dispatcher/client.js'))).toBe(true);
    expect(loaded.some((f) => f.endsWith('/undici/index.js'))).toBe(false);
    expect(loaded.some((f) => f.includes('/undici/lib/web/fetch/'))).toBe(false);
  }, 30_000);

  it("falls back to undici's entry point when its files have moved", async () => {
    const asked: string[] = [];
    const load = (id: string) => {
      asked.push(id);
      if (id.startsWith('undici/lib/')) throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
      return require(id) as unknown;
    };
    const api = loadHttpClient(load);
    expect(asked).toEqual(['undici/lib/dispatcher/client.js', 'undici']);
    expect(api.Client).toBe((require('undici') as typeof import('undici')).Client);
    await expect(get(api, '/b')).resolves.toEqual({ status: 200, body: 'hello /b' });
  });

  it('lets any other loading fault through', () => {
    const fault = new SyntaxError('Unexpected token');
    expect(() =>
      loadHttpClient(() => {
        throw fault;
      }),
    ).toThrow(fault);
  });
});

describe('loadDoh', () => {
  it("gives undici's Agent and a request(url) that uses it", async () => {
    const api = loadDoh();
    const agent = new api.Agent();
    try {
      const response = await api.request(`${origin}/doh`, { method: 'GET', dispatcher: agent });
      expect(response.statusCode).toBe(200);
      expect(await response.body.text()).toBe('hello /doh');
    } finally {
      await agent.close();
    }
  });
});
