// Tests of the TLS measurement, the trust store and the ClientHello parser, with real TLS on loopback.
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Deps } from '../probe/deps.js';
import { systemClock } from '../common/clock.js';
import { ConfigError, InvalidArgumentError } from '../common/errors.js';
import { measureTls, sanDnsNames, type TlsOptions } from '../probe/measure/tls.js';
import { loadTrust, type TrustStore } from '../probe/trust.js';
import { listenLoopback } from './fakes/listener.js';
import { loopbackNetwork } from './fakes/loopback-network.js';
import {
  LAB_ROOT_SUBJECT,
  makeLabPki,
  QAZNET_INTERMEDIATE_SUBJECT,
  QAZNET_ROOT_SUBJECT,
  WRONG_HOST,
  type LabPki,
} from './fakes/pki.js';
import { refusedPort } from './fakes/tcp-censor.js';
import {
  parseClientHelloSni,
  startHelloStaller,
  startSniResetter,
  startTlsServer,
} from './fakes/tls-server.js';

const DOMAIN = 'www.youtube.com';
const YT = '142.250.74.110';
const NEUTRAL = 'example.org';

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

function options(extra: Partial<TlsOptions> = {}): TlsOptions {
  return { timeoutMs: 3000, trust, neutralSni: NEUTRAL, ...extra };
}

const target = { ip: YT, port: 443, sni: DOMAIN, domain: DOMAIN };

function spkiOf(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

describe('measureTls', () => {
  it('records a trusted handshake with the whole chain', async () => {
    const server = track(await startTlsServer({ cert: pki.leaf.cert, key: pki.leaf.key }));
    const obs = await measureTls(target, options({ alpn: ['h2', 'http/1.1'] }), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs).toMatchObject({
      domain: DOMAIN,
      ip: YT,
      port: 443,
      sni: DOMAIN,
      version: 'TLSv1.3',
      alpn: 'http/1.1',
      trusted: true,
      hostname_ok: true,
      validation_error: null,
      failure: null,
      operation: null,
      error: null,
      neutral: null,
    });
    expect(obs.cipher).toMatch(/^TLS_/);
    expect(obs.rtt_ms).toBeGreaterThan(0);
    const leaf = new X509Certificate(pki.leaf.cert);
    const [first, root] = obs.chain;
    expect(first).toEqual({
      subject: `CN=${DOMAIN}`,
      issuer: LAB_ROOT_SUBJECT,
      fingerprint256: leaf.fingerprint256,
      spki_sha256: spkiOf(pki.leaf.cert),
      serial: leaf.serialNumber,
      valid_from: new Date(leaf.validFrom).toISOString(),
      valid_to: new Date(leaf.validTo).toISOString(),
      san: [DOMAIN, 'youtube.com'],
    });
    // The trusted root completes the chain, and the walk stops at the self-issued certificate.
    expect(obs.chain).toHaveLength(2);
    expect(root).toMatchObject({ subject: LAB_ROOT_SUBJECT, issuer: LAB_ROOT_SUBJECT, san: [] });
    expect(root?.fingerprint256).toBe(new X509Certificate(pki.root).fingerprint256);
    expect(server.servernames).toEqual([DOMAIN]);
    await vi.waitFor(() => expect(server.connections()).toBe(0));
  });

  it('records the Qaznet interception chain as untrusted evidence, not as a failure', async () => {
    const server = track(
      await startTlsServer({ cert: pki.qaznet.leaf.cert, key: pki.qaznet.leaf.key, chain: pki.qaznet.leaf.chain }),
    );
    const obs = await measureTls(target, options(), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs).toMatchObject({
      failure: null,
      operation: null,
      trusted: false,
      validation_error: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      hostname_ok: true,
      neutral: null,
    });
    expect(obs.chain.map((c) => c.subject)).toEqual([`CN=${DOMAIN}`, QAZNET_INTERMEDIATE_SUBJECT]);
    expect(obs.chain.map((c) => c.issuer)).toEqual([QAZNET_INTERMEDIATE_SUBJECT, QAZNET_ROOT_SUBJECT]);
    expect(obs.chain[1]?.fingerprint256).toBe(new X509Certificate(pki.qaznet.intermediate).fingerprint256);
  });

  it('shows the Qaznet root in a chain that validates because the volunteer installed it', async () => {
    const server = track(
      await startTlsServer({ cert: pki.qaznet.leaf.cert, key: pki.qaznet.leaf.key, chain: pki.qaznet.leaf.chain }),
    );
    const installed = loadTrust({ extraCa: [pki.qaznet.root], env: {} });
    const obs = await measureTls(target, options({ trust: installed }), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs.trusted).toBe(true);
    expect(obs.chain.map((c) => c.subject)).toEqual([`CN=${DOMAIN}`, QAZNET_INTERMEDIATE_SUBJECT, QAZNET_ROOT_SUBJECT]);
  });

  it('records a self-signed leaf', async () => {
    const server = track(await startTlsServer({ cert: pki.selfSigned.cert, key: pki.selfSigned.key }));
    const obs = await measureTls(target, options(), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs).toMatchObject({ failure: null, trusted: false, validation_error: 'DEPTH_ZERO_SELF_SIGNED_CERT', hostname_ok: true });
    expect(obs.chain).toHaveLength(1);
    expect(obs.chain[0]?.subject).toBe(obs.chain[0]?.issuer);
  });

  it('records a certificate for another name: trusted chain, hostname_ok false', async () => {
    const server = track(await startTlsServer({ cert: pki.wrongHost.cert, key: pki.wrongHost.key }));
    const obs = await measureTls(target, options(), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs).toMatchObject({ failure: null, trusted: true, validation_error: null, hostname_ok: false });
    expect(obs.chain[0]?.san).toEqual([WRONG_HOST]);
  });

  it('records an expired leaf', async () => {
    const server = track(await startTlsServer({ cert: pki.expired.cert, key: pki.expired.key }));
    const obs = await measureTls(target, options(), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs).toMatchObject({ failure: null, trusted: false, validation_error: 'CERT_HAS_EXPIRED', hostname_ok: true });
    expect(obs.chain[0]?.valid_to).toBe('2020-02-01T00:00:00.000Z');
  });

  it('sends no SNI when sni is null and then leaves hostname_ok null', async () => {
    const server = track(await startTlsServer({ cert: pki.leaf.cert, key: pki.leaf.key }));
    // The SNI filter in front parses the ClientHello and passes a hello without SNI through.
    const filter = track(await startSniResetter({ blockedSni: DOMAIN, upstream: server }));
    const obs = await measureTls({ ...target, sni: null }, options(), depsFor({ [`${YT}:443`]: filter.port }));
    expect(obs).toMatchObject({ sni: null, failure: null, trusted: true, hostname_ok: null, neutral: null });
    expect(filter.hellos).toEqual([null]);
    expect(server.servernames).toEqual([]);
  });

  it('separates SNI filtering from IP blocking: reset with the target SNI, neutral SNI succeeds', async () => {
    const upstream = track(await startTlsServer({ cert: pki.leaf.cert, key: pki.leaf.key }));
    const censor = track(await startSniResetter({ blockedSni: DOMAIN, upstream }));
    const deps = depsFor({ [`${YT}:443`]: censor.port });
    const obs = await measureTls(target, options(), deps);
    expect(obs).toMatchObject({ failure: 'connection_reset', operation: 'tls_handshake', chain: [], trusted: null });
    expect(obs.error).toMatch(/ECONNRESET/);
    expect(obs.neutral).toMatchObject({ sni: NEUTRAL, failure: null, trusted: true, hostname_ok: false });
    expect(obs.neutral?.chain[0]?.subject).toBe(`CN=${DOMAIN}`);
    expect(censor.hellos).toEqual([DOMAIN, NEUTRAL]);
    expect(censor.resets()).toBe(1);
    expect(upstream.servernames).toEqual([NEUTRAL]);
    expect(deps.network.dials).toEqual([`${YT}:443`, `${YT}:443`]);
    await vi.waitFor(() => expect(censor.connections() + upstream.connections()).toBe(0));
  });

  it('records eof_error when the peer closes after the ClientHello, and retries with the neutral SNI', async () => {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end());
    });
    const closer = track(await listenLoopback(server));
    const obs = await measureTls(target, options(), depsFor({ [`${YT}:443`]: closer.port }));
    expect(obs).toMatchObject({ failure: 'eof_error', operation: 'tls_handshake' });
    expect(obs.neutral).toMatchObject({ sni: NEUTRAL, failure: 'eof_error', operation: 'tls_handshake' });
  });

  it('records ssl_failed_handshake for a TLS alert, without a neutral retry', async () => {
    const server = track(await startTlsServer({ cert: pki.leaf.cert, key: pki.leaf.key, alpn: ['h2'] }));
    const obs = await measureTls(target, options({ alpn: ['http/1.1'] }), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs).toMatchObject({ failure: 'ssl_failed_handshake', operation: 'tls_handshake', neutral: null });
    expect(obs.error).toMatch(/ALERT_NO_APPLICATION_PROTOCOL/);
  });

  it('records ssl_failed_handshake when the port does not speak TLS', async () => {
    const server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n'));
    });
    const plain = track(await listenLoopback(server));
    const obs = await measureTls(target, options(), depsFor({ [`${YT}:443`]: plain.port }));
    expect(obs).toMatchObject({ failure: 'ssl_failed_handshake', operation: 'tls_handshake', neutral: null });
  });

  it('records a connect failure under operation connect, without a neutral retry', async () => {
    const port = await refusedPort();
    const obs = await measureTls(target, options(), depsFor({ [`${YT}:443`]: port }));
    expect(obs).toMatchObject({ failure: 'connection_refused', operation: 'connect', neutral: null, chain: [] });
  });

  it('times out a stalled handshake, then stalls again with the neutral SNI (fake timers)', async () => {
    const staller = track(await startHelloStaller());
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let settled = false;
    const pending = measureTls(target, options({ timeoutMs: 5000 }), depsFor({ [`${YT}:443`]: staller.port })).finally(() => {
      settled = true;
    });
    await staller.waitForHellos(1);
    await vi.advanceTimersByTimeAsync(4999);
    expect(settled).toBe(false);
    expect(staller.hellos).toEqual([DOMAIN]);
    await vi.advanceTimersByTimeAsync(1);
    await staller.waitForHellos(2);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(5000);
    const obs = await pending;
    expect(obs).toMatchObject({ failure: 'generic_timeout_error', operation: 'tls_handshake' });
    expect(obs.error).toMatch(/tls_handshake timed out after 5000 ms/);
    expect(obs.neutral).toMatchObject({ sni: NEUTRAL, failure: 'generic_timeout_error', operation: 'tls_handshake' });
    expect(staller.hellos).toEqual([DOMAIN, NEUTRAL]);
    vi.useRealTimers();
    await vi.waitFor(() => expect(staller.connections()).toBe(0));
  });

  it('on abort rejects with the reason and leaves no connection open', async () => {
    const staller = track(await startHelloStaller());
    const controller = new AbortController();
    const reason = new Error('ctrl-c');
    const pending = measureTls(target, options({ timeoutMs: 60_000, signal: controller.signal }), depsFor({ [`${YT}:443`]: staller.port }));
    await staller.waitForHellos(1);
    expect(staller.connections()).toBe(1);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await vi.waitFor(() => expect(staller.connections()).toBe(0));
    expect(staller.hellos).toHaveLength(1);
  });

  it('on abort during the neutral retry rejects too, leaving nothing open', async () => {
    const staller = track(await startHelloStaller());
    const controller = new AbortController();
    const pending = measureTls(target, options({ timeoutMs: 200, signal: controller.signal }), depsFor({ [`${YT}:443`]: staller.port }));
    await staller.waitForHellos(2);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    await vi.waitFor(() => expect(staller.connections()).toBe(0));
  });
});

describe('loadTrust', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ashyq-trust-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("holds Node's roots plus the extra CAs", () => {
    expect(trust.roots.length).toBe(tls.rootCertificates.length + 1);
    expect(trust.extraCaCount).toBe(1);
    expect(trust.extraCaFile).toBeNull();
    expect(trust.secureContext()).toBe(trust.secureContext());
  });

  it('reads the NODE_EXTRA_CA_CERTS file once, at load, and trusts it', async () => {
    const file = join(dir, 'extra.pem');
    await writeFile(file, `# lab bundle\n${pki.root}\n${pki.qaznet.root}`);
    const fromEnv = loadTrust({ env: { NODE_EXTRA_CA_CERTS: file } });
    expect(fromEnv.extraCaFile).toEqual({ path: file, count: 2 });
    await rm(file);
    const server = track(await startTlsServer({ cert: pki.leaf.cert, key: pki.leaf.key }));
    const obs = await measureTls(target, options({ trust: fromEnv }), depsFor({ [`${YT}:443`]: server.port }));
    expect(obs.trusted).toBe(true);
  });

  it('fails with a ConfigError naming the file when NODE_EXTRA_CA_CERTS cannot be read or holds no certificate', async () => {
    const missing = join(dir, 'missing.pem');
    expect(() => loadTrust({ env: { NODE_EXTRA_CA_CERTS: missing } })).toThrow(ConfigError);
    expect(() => loadTrust({ env: { NODE_EXTRA_CA_CERTS: missing } })).toThrow(missing);
    const empty = join(dir, 'empty.pem');
    await writeFile(empty, 'not a certificate');
    expect(() => loadTrust({ env: { NODE_EXTRA_CA_CERTS: empty } })).toThrow(/no PEM certificate/);
  });

  it('refuses an extra CA that is not a certificate', () => {
    expect(() => loadTrust({ extraCa: ['hello'], env: {} })).toThrow(InvalidArgumentError);
  });
});

describe('sanDnsNames', () => {
  it('keeps DNS names only, quoted ones included', () => {
    expect(sanDnsNames('DNS:a.kz, IP Address:10.0.0.1, DNS:"b, c.kz", DNS:*.d.kz')).toEqual(['a.kz', 'b, c.kz', '*.d.kz']);
    expect(sanDnsNames(undefined)).toEqual([]);
  });
});

/** The first TLS record a real Node client sends, read by length (independently of the parser). */
async function captureClientHello(servername: string | undefined): Promise<Buffer> {
  let received = Buffer.alloc(0);
  let done: (hello: Buffer) => void = () => undefined;
  const captured = new Promise<Buffer>((resolve) => (done = resolve));
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 5 && received.length >= 5 + received.readUInt16BE(3)) {
        done(received.subarray(0, 5 + received.readUInt16BE(3)));
        socket.destroy();
      }
    });
  });
  const listener = track(await listenLoopback(server));
  const client = tls.connect({ host: '127.0.0.1', port: listener.port, ...(servername ? { servername } : {}) });
  client.on('error', () => undefined);
  const hello = await captured;
  client.destroy();
  return hello;
}

describe('parseClientHelloSni', () => {
  it('finds the SNI of a real ClientHello, and asks for more bytes while it is incomplete', async () => {
    const hello = await captureClientHello('www.facebook.com');
    expect(parseClientHelloSni(hello)).toEqual({ state: 'hello', sni: 'www.facebook.com' });
    for (const cut of [0, 3, 5, 40, hello.length - 1]) {
      expect(parseClientHelloSni(hello.subarray(0, cut))).toEqual({ state: 'incomplete' });
    }
  });

  it('reports no SNI when the client sent none', async () => {
    const hello = await captureClientHello(undefined);
    expect(parseClientHelloSni(hello)).toEqual({ state: 'hello', sni: null });
  });

  it('reassembles a ClientHello split over two records', async () => {
    const hello = await captureClientHello('t.me');
    const message = hello.subarray(5);
    const record = (part: Buffer) => Buffer.concat([Buffer.from([22, 3, 1, part.length >> 8, part.length & 0xff]), part]);
    const split = Buffer.concat([record(message.subarray(0, 60)), record(message.subarray(60))]);
    expect(parseClientHelloSni(split.subarray(0, 70))).toEqual({ state: 'incomplete' });
    expect(parseClientHelloSni(split)).toEqual({ state: 'hello', sni: 't.me' });
  });

  it('rejects what is not a ClientHello or is corrupt', async () => {
    expect(parseClientHelloSni(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toMatchObject({ state: 'invalid' });
    expect(parseClientHelloSni(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0]))).toMatchObject({ state: 'invalid' });
    const hello = Buffer.from(await captureClientHello('www.youtube.com'));
    // Claim a huge extensions block: the parser must not read past the message.
    const sessionLength = hello[5 + 4 + 34] ?? 0;
    let at = 5 + 4 + 34 + 1 + sessionLength;
    at += 2 + hello.readUInt16BE(at);
    at += 1 + (hello[at] ?? 0);
    hello.writeUInt16BE(0xffff, at);
    expect(parseClientHelloSni(hello)).toMatchObject({ state: 'invalid' });
  });
});
