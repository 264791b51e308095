// Uploads through loopback proxies written here (HTTP CONNECT, CONNECT over TLS, SOCKS5 with and without a password), pinning end to end.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../common/errors.js';
import { loadOrCreateIdentity, type Identity } from '../probe/identity.js';
import { CollectorClient, UploadError, type CollectorEndpoint } from '../probe/upload/client.js';
import { spkiSha256 } from '../probe/upload/pin.js';
import { parseProxy } from '../probe/upload/proxy.js';
import { loopbackNetwork } from './fakes/loopback-network.js';
import { makeLabPki, type LabPki } from './fakes/pki.js';
import { COLLECTOR_NAME, startTestCollector, type TestCollector } from './fakes/upload-collector.js';
import { startConnectProxy, startInterceptor, startSocksProxy, type Relay, type Route } from './fakes/upload-net.js';
import { makeMeasurement, tempDir, TOKEN } from './fixtures/collector/helpers.js';
import { rm } from 'node:fs/promises';
import path from 'node:path';

const PROXY_NAME = 'proxy.ashyq.test';
const PROXY_IP = '198.51.100.20'; // TEST-NET-2: mapped to the loopback proxy, never dialled
const PROXY_NETWORK = { asn: 24940, cc: 'DE', network: 'a hosting provider (the proxy)' };

let pki: LabPki;
let proxyPki: LabPki;
let collector: TestCollector;
let stateRoot: string;
let states = 0;
/** Addresses the collector looked up (each one is the proxy's). */
let lookups = 0;
const cleanup: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  pki = await makeLabPki([COLLECTOR_NAME]);
  proxyPki = await makeLabPki([PROXY_NAME]);
  // The collector sees the proxy's address: its lookup names the proxy's network.
  collector = await startTestCollector({
    serve: pki.leaf,
    asnLookup: () => {
      lookups++;
      return PROXY_NETWORK;
    },
  });
  stateRoot = await tempDir('ashyq-upload-proxy-');
});

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

afterAll(async () => {
  await collector?.dispose();
  await rm(stateRoot, { recursive: true, force: true });
});

/** The proxy's view of the world: the collector's name (and its test addresses) lead to the loopback collector. */
const toCollector: Route = (host, port) =>
  port === 443 && (host === COLLECTOR_NAME || host === '203.0.113.10' || host === '2001:0db8:0000:0000:0000:0000:0000:0010') ? collector.port : null;

async function identity(): Promise<Identity> {
  return loadOrCreateIdentity(path.join(stateRoot, `s${states++}`));
}

/**
 * A client whose network knows only the proxy: its name resolves to PROXY_IP, which is mapped to the
 * loopback proxy port; the collector's name does not resolve and its address is not mapped, so every
 * byte to the collector must go through the proxy.
 */
function viaProxy(relay: Relay, id: Identity, proxy: string, extra: Partial<CollectorEndpoint> = {}) {
  const network = loopbackNetwork({ [`${PROXY_IP}:${relay.port}`]: relay.port }, async (domain, family) => {
    if (domain === PROXY_NAME && family === 4) return [PROXY_IP];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${domain}`), { code: 'ENOTFOUND' });
  });
  const client = new CollectorClient(
    { url: collector.url, pinSpkiSha256: [spkiSha256(pki.leaf.cert)], proxy, enrollmentToken: TOKEN, timeoutMs: 5000, ...extra },
    id,
    { clock: collector.clock, network },
  );
  cleanup.push(() => client.close());
  return { client, network };
}

async function relay<T extends Relay>(started: Promise<T>): Promise<T> {
  const r = await started;
  cleanup.push(() => r.close());
  return r;
}

async function uploadOne(client: CollectorClient, id: Identity): Promise<string> {
  const m = makeMeasurement({ probeId: id.probeId, at: collector.clock.now() });
  const results = await client.upload([m]);
  expect(results).toEqual([{ index: 0, id: m.id, status: 'accepted' }]);
  expect(collector.collector.store.hasMeasurement(m.id)).toBe(true);
  return m.id;
}

async function failure(p: Promise<unknown>): Promise<UploadError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UploadError);
  return err as UploadError;
}

describe('upload through an HTTP CONNECT proxy', () => {
  it("fetches the target list marked as proxied: the collector does not take the proxy's network for the probe's", async () => {
    const r = await relay(startConnectProxy({ route: toCollector }));
    const { client } = viaProxy(r, await identity(), `http://${PROXY_NAME}:${r.port}`);
    lookups = 0;
    const answer = await client.fetchTargets(null);
    expect(answer.status).toBe('ok');
    // No lookup: no event surge meant for the proxy's network reaches the probe.
    expect(lookups).toBe(0);
    expect(await client.whoami()).toEqual(PROXY_NETWORK);
    expect(lookups).toBe(1);
  });

  it('tunnels registration and upload, the proxy seeing only the name and TLS bytes', async () => {
    const r = await relay(startConnectProxy({ route: toCollector }));
    const id = await identity();
    const { client, network } = viaProxy(r, id, `http://${PROXY_NAME}:${r.port}`);
    const uploaded = await uploadOne(client, id);
    // Marked as proxied, the batch keeps the network the probe states, not the proxy's.
    const stored: Array<[number | null, string | null]> = [];
    for await (const { record } of collector.collector.archive.read()) if (record.measurement.id === uploaded) stored.push([record.asn, record.cc]);
    expect(stored).toEqual([[9198, 'KZ']]);
    expect(r.requests.length).toBeGreaterThanOrEqual(1);
    expect(new Set(r.requests)).toEqual(new Set([`${COLLECTOR_NAME}:443`]));
    expect(r.bytesUp).toBeGreaterThan(1000);
    expect(r.bytesDown).toBeGreaterThan(500);
    // The probe dialled the proxy only, and never looked the collector up itself.
    expect(new Set(network.dials)).toEqual(new Set([`${PROXY_IP}:${r.port}`]));
  });

  it('sends Basic credentials, and reports a 407 as a network failure', async () => {
    const r = await relay(startConnectProxy({ route: toCollector, auth: { user: 'vol', password: 'p@ss word' } }));
    const id = await identity();
    await uploadOne(viaProxy(r, id, `http://vol:p%40ss%20word@${PROXY_NAME}:${r.port}`).client, id);
    const err = await failure(viaProxy(r, id, `http://vol:wrong@${PROXY_NAME}:${r.port}`).client.whoami());
    expect(err.kind).toBe('network');
    expect(err.message).toMatch(/407 Proxy Authentication Required/);
  });

  it('runs CONNECT inside TLS to an https:// proxy, the collector TLS nested inside', async () => {
    const r = await relay(startConnectProxy({ route: toCollector, tls: proxyPki.leaf }));
    const id = await identity();
    await uploadOne(viaProxy(r, id, `https://${PROXY_NAME}:${r.port}`, { proxyCa: [proxyPki.root] }).client, id);
    expect(new Set(r.requests)).toEqual(new Set([`${COLLECTOR_NAME}:443`]));
    // The proxy's own certificate is checked against the roots given (not pinned): an unknown one fails.
    const err = await failure(viaProxy(r, id, `https://${PROXY_NAME}:${r.port}`).client.whoami());
    expect(err.kind).toBe('network');
    expect(err.message).toMatch(/ssl_unknown_authority/);
  });

  it('checks the pin end to end: an interceptor behind the proxy gets no request byte', async () => {
    const interceptor = await startInterceptor({ ...pki.qaznet.leaf, chain: [pki.qaznet.intermediate] });
    cleanup.push(() => interceptor.close());
    const r = await relay(startConnectProxy({ route: (host) => (host === COLLECTOR_NAME ? interceptor.port : null) }));
    const id = await identity();
    id.registered = true;
    const err = await failure(viaProxy(r, id, `http://${PROXY_NAME}:${r.port}`).client.upload([makeMeasurement({ probeId: id.probeId, at: collector.clock.now() })]));
    expect(err.kind).toBe('pin_mismatch');
    expect(err.pinEvidence?.chain[1]?.subject).toBe('CN=Security Certificate');
    // The dialled address in the evidence is the proxy's (the collector's is not known through a tunnel).
    expect(err.pinEvidence?.ip).toBe('127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(interceptor.connections).toBe(1);
    expect(interceptor.plaintextBytes).toBe(0);
  });

  it('reports a proxy that cannot reach the collector', async () => {
    const r = await relay(startConnectProxy({ route: () => null }));
    const id = await identity();
    const err = await failure(viaProxy(r, id, `http://${PROXY_NAME}:${r.port}`).client.whoami());
    expect(err.kind).toBe('network');
    expect(err.message).toMatch(/502 Bad Gateway/);
  });
});

describe('upload through a SOCKS5 proxy', () => {
  it('tunnels with no authentication, handing the collector NAME to the proxy', async () => {
    const r = await relay(startSocksProxy({ route: toCollector }));
    const id = await identity();
    const { client, network } = viaProxy(r, id, `socks5://${PROXY_NAME}:${r.port}`);
    await uploadOne(client, id);
    expect(r.methodsOffered[0]).toEqual([0x00]);
    expect(r.addressTypes.every((t) => t === 0x03)).toBe(true);
    expect(new Set(r.requests)).toEqual(new Set([`${COLLECTOR_NAME}:443`]));
    expect(r.bytesUp).toBeGreaterThan(1000);
    expect(new Set(network.dials)).toEqual(new Set([`${PROXY_IP}:${r.port}`]));
  });

  it('authenticates with a user name and password (RFC 1929), and fails cleanly with a wrong one', async () => {
    const r = await relay(startSocksProxy({ route: toCollector, auth: { user: 'volunteer', password: 'secret' } }));
    const id = await identity();
    await uploadOne(viaProxy(r, id, `socks5h://volunteer:secret@${PROXY_NAME}:${r.port}`).client, id);
    expect(r.methodsOffered[0]).toEqual([0x00, 0x02]);
    const wrong = await failure(viaProxy(r, id, `socks5://volunteer:nope@${PROXY_NAME}:${r.port}`).client.whoami());
    expect(wrong.message).toMatch(/refused the user name and password/);
    const none = await failure(viaProxy(r, id, `socks5://${PROXY_NAME}:${r.port}`).client.whoami());
    expect(none.message).toMatch(/requires authentication/);
  });

  it('sends IPv4 and IPv6 collector addresses as such', async () => {
    const r = await relay(startSocksProxy({ route: toCollector }));
    const id = await identity();
    const pin = [spkiSha256(pki.leaf.cert)];
    for (const url of ['https://203.0.113.10', 'https://[2001:db8::10]']) {
      const { client } = viaProxy(r, id, `socks5://${PROXY_NAME}:${r.port}`, { url, pinSpkiSha256: pin });
      expect(await client.whoami()).toEqual(PROXY_NETWORK);
    }
    expect(r.addressTypes).toEqual([0x01, 0x04]);
    expect(r.requests).toEqual(['203.0.113.10:443', '2001:0db8:0000:0000:0000:0000:0000:0010:443']);
  });

  it('maps a refused destination to connection_refused', async () => {
    const r = await relay(startSocksProxy({ route: () => null }));
    const id = await identity();
    const err = await failure(viaProxy(r, id, `socks5://${PROXY_NAME}:${r.port}`).client.whoami());
    expect(err.kind).toBe('network');
    expect(err.message).toMatch(/^connection_refused .*SOCKS5 proxy could not connect/);
  });
});

describe('parseProxy', () => {
  it('reads the schemes, default ports and credentials', () => {
    expect(parseProxy('http://10.0.0.1:3128')).toEqual({ protocol: 'http', host: '10.0.0.1', port: 3128, username: null, password: null });
    expect(parseProxy('https://proxy.example')).toMatchObject({ protocol: 'https', port: 443 });
    expect(parseProxy('socks5://u:p%3A@[::1]')).toEqual({ protocol: 'socks5', host: '::1', port: 1080, username: 'u', password: 'p:' });
    expect(parseProxy('socks5h://h:9050')).toMatchObject({ protocol: 'socks5', port: 9050 });
    expect(() => parseProxy('ftp://x')).toThrow(InvalidArgumentError);
    expect(() => parseProxy('http://x:1/path')).toThrow(/nothing after the port/);
    expect(() => parseProxy('nonsense')).toThrow(/not a URL/);
  });
});
