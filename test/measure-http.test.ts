// Tests of the HTTP measurement over real loopback sockets: pages, redirects, block pages, broken peers, HTTPS.
import { createHash } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Deps } from '../probe/deps.js';
import { systemClock } from '../common/clock.js';
import { InvalidArgumentError } from '../common/errors.js';
import { measureHttp, titleOf, type HttpOptions } from '../probe/measure/http.js';
import { loadTrust, type TrustStore } from '../probe/trust.js';
import {
  BLOCK_PAGE_TITLE,
  blockPageHtml,
  startBlockPageServer,
  startGarbageServer,
  startHttpServer,
} from './fakes/http-server.js';
import { loopbackNetwork } from './fakes/loopback-network.js';
import { makeLabPki, type LabPki } from './fakes/pki.js';
import { refusedPort, startSilentListener } from './fakes/tcp-censor.js';
import { startTlsServer } from './fakes/tls-server.js';

const DOMAIN = 'www.youtube.com';
const YT = '142.250.74.110';

let pki: LabPki;
let trust: TrustStore;
const closers: { close(): Promise<void> }[] = [];
function track<T extends { close(): Promise<void> }>(thing: T): T {
  closers.push(thing);
  return thing;
}

beforeAll(async () => {
  pki = await makeLabPki([DOMAIN, 'youtube.com']);
  trust = loadTrust({ extraCa: [pki.root], env: {} });
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(closers.splice(0).map((c) => c.close()));
});

function depsFor(map: Record<string, number>) {
  return { network: loopbackNetwork(map), clock: systemClock } satisfies Deps;
}

function options(extra: Partial<HttpOptions> = {}): HttpOptions {
  return { timeoutMs: 3000, trust, maxBodyBytes: 1024 * 1024, ...extra };
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

const PAGE = `<!doctype html><html><head><title>
  YouTube &amp; friends &#8212; видео</title></head><body>${'x'.repeat(10_000)}</body></html>`;

describe('measureHttp over http', () => {
  it('records status, headers of interest, body digest and title', async () => {
    const server = track(
      await startHttpServer((_req, res) => {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          server: 'ESF',
          'x-unlisted': 'dropped',
          'set-cookie': ['a=1', 'b=2'],
        });
        res.end(PAGE);
      }),
    );
    const deps = depsFor({ [`${YT}:80`]: server.port });
    const obs = await measureHttp({ url: `http://${DOMAIN}/watch?v=1`, ip: YT, port: 80, domain: DOMAIN }, options(), deps);
    const bytes = Buffer.from(PAGE);
    expect(obs).toMatchObject({
      domain: DOMAIN,
      url: `http://${DOMAIN}/watch?v=1`,
      ip: YT,
      port: 80,
      status: 200,
      headers: { 'content-type': 'text/html; charset=utf-8', server: 'ESF' },
      body_length: bytes.length,
      body_sha256: sha256(bytes),
      title: 'YouTube & friends — видео',
      failure: null,
      operation: null,
      error: null,
    });
    expect(Object.keys(obs.headers).sort()).toEqual(['content-type', 'server']);
    expect(obs.body_head).toBe(PAGE.slice(0, 4096));
    expect(obs.rtt_ms).toBeGreaterThan(0);
    expect(server.requests).toEqual([{ method: 'GET', url: '/watch?v=1', host: DOMAIN }]);
    expect(deps.network.dials).toEqual([`${YT}:80`]);
    await vi.waitFor(() => expect(server.connections()).toBe(0));
  });

  it('records a redirect without following it', async () => {
    const server = track(
      await startHttpServer((_req, res) => {
        res.writeHead(302, { location: 'https://www.youtube.com/', 'content-length': '0' });
        res.end();
      }),
    );
    const obs = await measureHttp({ url: 'http://youtube.com/', ip: YT, port: 80, domain: 'youtube.com' }, options(), depsFor({ [`${YT}:80`]: server.port }));
    expect(obs).toMatchObject({
      status: 302,
      headers: { location: 'https://www.youtube.com/', 'content-length': '0' },
      body_length: 0,
      body_sha256: sha256(''),
      title: null,
      failure: null,
    });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.host).toBe('youtube.com');
  });

  it('keeps the block page text and title', async () => {
    const server = track(await startBlockPageServer());
    const obs = await measureHttp({ url: `http://${DOMAIN}/`, ip: YT, port: 80, domain: DOMAIN }, options(), depsFor({ [`${YT}:80`]: server.port }));
    const page = blockPageHtml();
    expect(obs).toMatchObject({ status: 200, title: BLOCK_PAGE_TITLE, failure: null, body_sha256: sha256(page) });
    expect(obs.body_head).toBe(page);
    expect(obs.body_head).toContain('Доступ к данному интернет-ресурсу ограничен');
    expect(obs.body_length).toBe(Buffer.byteLength(page));
  });

  it('stops reading at maxBodyBytes and digests what it read', async () => {
    const body = Buffer.alloc(200_000, 'a');
    const server = track(
      await startHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(body);
      }),
    );
    const obs = await measureHttp({ url: `http://${DOMAIN}/`, ip: YT, port: 80, domain: DOMAIN }, options({ maxBodyBytes: 1000 }), depsFor({ [`${YT}:80`]: server.port }));
    expect(obs).toMatchObject({ status: 200, failure: null, body_length: 1000, body_sha256: sha256(body.subarray(0, 1000)) });
    expect(obs.body_head).toBe('a'.repeat(1000));
    await vi.waitFor(() => expect(server.connections()).toBe(0));
  });

  it('records http_invalid_response for a peer that does not speak HTTP', async () => {
    const server = track(await startGarbageServer());
    const obs = await measureHttp({ url: `http://${DOMAIN}/`, ip: YT, port: 80, domain: DOMAIN }, options(), depsFor({ [`${YT}:80`]: server.port }));
    expect(obs).toMatchObject({ failure: 'http_invalid_response', operation: 'http_request', status: null });
    expect(obs.error).toMatch(/does not match the HTTP\/1.1 protocol/);
  });

  it('records connection_reset when the peer resets in the middle of the body, with what arrived', async () => {
    const server = track(
      await startHttpServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': '100000' });
        res.write('<title>partial</title>'.padEnd(1000, '.'), () => {
          setTimeout(() => req.socket.resetAndDestroy(), 50);
        });
      }),
    );
    const obs = await measureHttp({ url: `http://${DOMAIN}/`, ip: YT, port: 80, domain: DOMAIN }, options(), depsFor({ [`${YT}:80`]: server.port }));
    expect(obs).toMatchObject({ failure: 'connection_reset', operation: 'http_body', status: 200, body_length: 1000, title: 'partial' });
    expect(obs.headers['content-length']).toBe('100000');
    expect(obs.error).toMatch(/ECONNRESET/);
  });

  it('records eof_error when the peer closes in the middle of the body', async () => {
    const server = track(
      await startHttpServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': '100000' });
        res.write('x'.repeat(500), () => req.socket.end());
      }),
    );
    const obs = await measureHttp({ url: `http://${DOMAIN}/`, ip: YT, port: 80, domain: DOMAIN }, options(), depsFor({ [`${YT}:80`]: server.port }));
    expect(obs).toMatchObject({ failure: 'eof_error', operation: 'http_body', status: 200, body_length: 500 });
  });

  it('times out when no response comes (fake timers)', async () => {
    const server = track(await startSilentListener());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let settled = false;
    const pending = measureHttp({ url: `http://${DOMAIN}/`, ip: YT, port: 80, domain: DOMAIN }, options({ timeoutMs: 8000 }), depsFor({ [`${YT}:80`]: server.port })).finally(
      () => {
        settled = true;
      },
    );
    // (vi.waitFor would advance the fake clock; poll on real I/O turns instead.)
    while (server.connections() < 1) await new Promise((resolve) => setImmediate(resolve));
    await vi.advanceTimersByTimeAsync(7999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const obs = await pending;
    expect(obs).toMatchObject({ failure: 'generic_timeout_error', operation: 'http_request', status: null });
    expect(obs.error).toMatch(/http_request timed out after 8000 ms/);
    vi.useRealTimers();
    await vi.waitFor(() => expect(server.connections()).toBe(0));
  });

  it('times out a body that stops coming', async () => {
    const server = track(
      await startHttpServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': '5000' });
        res.write('<title>slow</title>');
      }),
    );
    const obs = await measureHttp({ url: `http://${DOMAIN}/`, ip: YT, port: 80, domain: DOMAIN }, options({ timeoutMs: 300 }), depsFor({ [`${YT}:80`]: server.port }));
    expect(obs).toMatchObject({ failure: 'generic_timeout_error', operation: 'http_body', status: 200, title: 'slow' });
    await vi.waitFor(() => expect(server.connections()).toBe(0));
  });

  it('records a refused connection under operation connect', async () => {
    const port = await refusedPort();
    const obs = await measureHttp({ url: `http://${DOMAIN}/`, ip: YT, port: 80, domain: DOMAIN }, options(), depsFor({ [`${YT}:80`]: port }));
    expect(obs).toMatchObject({ failure: 'connection_refused', operation: 'connect', status: null, rtt_ms: null });
  });

  it('on abort rejects with the reason and closes the connection', async () => {
    const server = track(await startSilentListener());
    const controller = new AbortController();
    const reason = new Error('ctrl-c');
    const pending = measureHttp(
      { url: `http://${DOMAIN}/`, ip: YT, port: 80, domain: DOMAIN },
      options({ timeoutMs: 60_000, signal: controller.signal }),
      depsFor({ [`${YT}:80`]: server.port }),
    );
    await vi.waitFor(() => expect(server.connections()).toBe(1));
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await vi.waitFor(() => expect(server.connections()).toBe(0));
  });

  it('refuses what is not an http(s) URL', async () => {
    await expect(measureHttp({ url: 'ftp://x/', ip: YT, port: 21, domain: 'x' }, options(), depsFor({}))).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await expect(measureHttp({ url: 'nonsense', ip: YT, port: 80, domain: 'x' }, options(), depsFor({}))).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('measureHttp over https', () => {
  it('fetches over a chain that validates against the lab CA', async () => {
    const server = track(
      await startTlsServer({ cert: pki.leaf.cert, key: pki.leaf.key, onRequest: { status: 200, body: PAGE, headers: { server: 'gws' } } }),
    );
    const deps = depsFor({ [`${YT}:443`]: server.port });
    const obs = await measureHttp({ url: `https://${DOMAIN}/`, ip: YT, port: 443, domain: DOMAIN }, options(), deps);
    expect(obs).toMatchObject({
      status: 200,
      headers: { server: 'gws' },
      body_sha256: sha256(PAGE),
      title: 'YouTube & friends — видео',
      failure: null,
    });
    expect(server.servernames).toEqual([DOMAIN]);
    expect(deps.network.dials).toEqual([`${YT}:443`]);
    await vi.waitFor(() => expect(server.connections()).toBe(0));
  });

  it('fails at the handshake with ssl_unknown_authority over the Qaznet chain', async () => {
    const server = track(
      await startTlsServer({ cert: pki.qaznet.leaf.cert, key: pki.qaznet.leaf.key, chain: pki.qaznet.leaf.chain }),
    );
    const obs = await measureHttp({ url: `https://${DOMAIN}/`, ip: YT, port: 443, domain: DOMAIN }, options(), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs).toMatchObject({ failure: 'ssl_unknown_authority', operation: 'tls_handshake', status: null, body_length: null });
    expect(obs.error).toMatch(/UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
    await vi.waitFor(() => expect(server.connections()).toBe(0));
  });

  it('fails with ssl_invalid_hostname for a certificate of another name', async () => {
    const server = track(await startTlsServer({ cert: pki.wrongHost.cert, key: pki.wrongHost.key }));
    const obs = await measureHttp({ url: `https://${DOMAIN}/`, ip: YT, port: 443, domain: DOMAIN }, options(), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs).toMatchObject({ failure: 'ssl_invalid_hostname', operation: 'tls_handshake' });
  });

  it('fails with ssl_invalid_certificate for an expired certificate', async () => {
    const server = track(await startTlsServer({ cert: pki.expired.cert, key: pki.expired.key }));
    const obs = await measureHttp({ url: `https://${DOMAIN}/`, ip: YT, port: 443, domain: DOMAIN }, options(), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs).toMatchObject({ failure: 'ssl_invalid_certificate', operation: 'tls_handshake' });
  });
});

describe('titleOf', () => {
  it('takes the first title, decodes entities and collapses whitespace', () => {
    expect(titleOf('<html><TITLE lang="kk">\n  Бет&nbsp;&lt;1&gt; &#x41;\n</TITLE><title>second</title>')).toBe('Бет <1> A');
    expect(titleOf('<p>no title</p>')).toBeNull();
    expect(titleOf('<title>   </title>')).toBeNull();
    expect(titleOf(`<title>${'я'.repeat(300)}</title>`)).toHaveLength(200);
  });
});
