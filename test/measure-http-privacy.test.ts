// A block page that echoes the visitor's address: the address never reaches the evidence.
import { createHash } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { measureHttp } from '../probe/measure/http.js';
import { loadTrust } from '../probe/trust.js';
import { startHttpServer, type FakeHttpServer } from './fakes/http-server.js';
import { loopbackNetwork } from './fakes/loopback-network.js';

const SITE = '37.150.1.10';
let server: FakeHttpServer | undefined;
afterAll(async () => {
  await server?.close();
});

it('removes the address a block page shows the visitor from the head, title, headers and digest', async () => {
  let seen = '';
  server = await startHttpServer((req, res) => {
    seen = req.socket.remoteAddress ?? '';
    const visitor = seen.replace(/^::ffff:/, '');
    res.writeHead(200, { 'content-type': 'text/html', 'x-client-ip': visitor, location: `http://block.example.kz/?ip=${visitor}` });
    res.end(`<html><title>Доступ ограничен (${visitor})</title><body>Ваш IP: ${visitor}. Ресурс заблокирован.</body></html>`);
  });
  const network = loopbackNetwork({ [`${SITE}:80`]: server.port });
  const obs = await measureHttp(
    { url: 'http://vk.com/', ip: SITE, port: 80, domain: 'vk.com' },
    { timeoutMs: 2000, trust: loadTrust({ env: {} }), maxBodyBytes: 65536 },
    { network, clock: systemClock },
  );
  const visitor = seen.replace(/^::ffff:/, '');
  expect(visitor).toBe('127.0.0.1');
  expect(obs.status).toBe(200);
  expect(JSON.stringify(obs)).not.toContain(visitor);
  expect(obs.body_head).toContain('Ваш IP: [address].');
  expect(obs.title).toBe('Доступ ограничен ([address])');
  expect(obs.headers['location']).toBe('http://block.example.kz/?ip=[address]');
  const redacted = `<html><title>Доступ ограничен ([address])</title><body>Ваш IP: [address]. Ресурс заблокирован.</body></html>`;
  expect(obs.body_sha256).toBe(createHash('sha256').update(redacted).digest('hex'));
  expect(obs.ip).toBe(SITE); // the service's address stays
});

it('finds an address split across two chunks of the body', async () => {
  const chunks = ['<p>Ваш IP: 95.5', '6.12.34 и 2a02:a8', '0:1::5</p>'];
  const server2 = await startHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    let i = 0;
    const next = () => {
      const c = chunks[i++];
      if (c === undefined) res.end();
      else res.write(c, () => setTimeout(next, 20));
    };
    next();
  });
  try {
    const network = loopbackNetwork({ [`${SITE}:80`]: server2.port });
    const obs = await measureHttp(
      { url: 'http://vk.com/', ip: SITE, port: 80, domain: 'vk.com' },
      { timeoutMs: 2000, trust: loadTrust({ env: {} }), maxBodyBytes: 65536 },
      { network, clock: systemClock },
    );
    expect(obs.body_head).toBe('<p>Ваш IP: [address] и [address]</p>');
    expect(obs.body_length).toBe(Buffer.byteLength(chunks.join('')));
  } finally {
    await server2.close();
  }
});
