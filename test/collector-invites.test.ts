// Invites instead of a shared secret: single use, expiring, with a note; the fleet listed; a revoked probe's uploads refused.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../collector/cli/main.js';
import { decodeInvite, encodeInvite, INVITE_PREFIX } from '../contract/invite.js';
import type { BatchAnswer } from '../contract/wire.js';
import { makeMeasurement, newKeyPair, request, startCollector, type RunningCollector } from './fixtures/collector/helpers.js';

const PIN = 'Xk3zTNCDqyBqVvhVqHN7ChwkBZzUShsnl1GYN5TOy9g=';
const running: RunningCollector[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.dispose();
});

describe('the invite string', () => {
  it('carries the URL, the pins and the secret; spaces from copying are ignored', () => {
    const text = encodeInvite({ url: 'https://collector.example.org/ashyq', pins: [PIN], secret: 'a-secret-of-32-characters-012345' });
    expect(text.startsWith(INVITE_PREFIX)).toBe(true);
    expect(decodeInvite(` ${text.slice(0, 20)}\n  ${text.slice(20)} `)).toEqual({ url: 'https://collector.example.org/ashyq', pins: [PIN], secret: 'a-secret-of-32-characters-012345' });
  });

  it('says what is wrong with a bad one', () => {
    const good = encodeInvite({ url: 'https://c.example.org', pins: [PIN], secret: 'a-secret-of-32-characters-012345' });
    expect(() => decodeInvite('ashyq-token-123')).toThrow(/not an ashyq invite: it must start with ashyq1-/);
    expect(() => decodeInvite(good.slice(0, 30))).toThrow(/cut or altered/);
    expect(() => decodeInvite(`${good}!`)).toThrow(/cut or altered/);
    expect(() => decodeInvite(encodeInvite({ url: 'https://c.example.org', pins: [], secret: 'a-secret-of-32-characters-012345' }))).toThrow(/https collector without a key pin/);
    expect(() => decodeInvite(encodeInvite({ url: 'https://c.example.org', pins: [PIN], secret: 'short' }))).toThrow(/no valid enrollment secret/);
    expect(() => decodeInvite(encodeInvite({ url: 'ftp://c.example.org', pins: [PIN], secret: 'a-secret-of-32-characters-012345' }))).toThrow(/no collector URL/);
  });
});

async function cli(c: RunningCollector, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const config = path.join(c.dir, 'cli.yaml');
  await writeFile(config, `data_dir: ${JSON.stringify(c.dir)}\n`);
  let out = '';
  let err = '';
  const code = await main([argv[0]!, '--config', config, ...argv.slice(1)], { stdout: { write: (s: string) => void (out += s) }, stderr: { write: (s: string) => void (err += s) }, clock: c.clock });
  return { code, out, err };
}

async function register(c: RunningCollector, secret: string, probeId?: string) {
  const keys = newKeyPair();
  const res = await request(`${c.url}/api/v1/probes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrollment_token: secret, public_key: keys.publicKeyPem, ...(probeId !== undefined ? { probe_id: probeId } : {}) }),
  });
  return { res, keys, body: res.json() as { probe_id?: string; error?: { code: string; message: string } } };
}

describe('ashyq-collector invite, probes and revoke', () => {
  it('an invite enrolls one probe, once; the note follows the probe; a revoked probe is refused and listed so', async () => {
    const c = await startCollector();
    running.push(c);
    const made = await cli(c, 'invite', '--url', c.url, '--note', 'Almaty, home fibre', '--json');
    expect(made.code, made.err).toBe(0);
    const { invite, note, expires_at } = JSON.parse(made.out) as { invite: string; note: string; expires_at: string };
    expect(note).toBe('Almaty, home fibre');
    expect(Date.parse(expires_at) - c.clock.now(), 'a week by default').toBe(7 * 86_400_000);
    const decoded = decodeInvite(invite);
    expect([decoded.url, decoded.pins]).toEqual([c.url, []]);

    const first = await register(c, decoded.secret, 'volunteer-almaty-01');
    expect(first.res.status, first.res.text).toBe(201);
    expect(c.collector.store.probe('volunteer-almaty-01')).toMatchObject({ role: 'probe', note: 'Almaty, home fibre', revoked_at: null });
    // The same probe may retry with it; another probe may not use it.
    const retry = await request(`${c.url}/api/v1/probes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrollment_token: decoded.secret, public_key: first.keys.publicKeyPem, probe_id: 'volunteer-almaty-01' }),
    });
    expect(retry.status).toBe(200);
    const second = await register(c, decoded.secret);
    expect([second.res.status, second.body.error?.code]).toEqual([403, 'invite_used']);
    expect((await register(c, 'not-an-invite-nor-a-token-123')).body.error?.code).toBe('bad_token');

    // Measurements from it are accepted, and listed with it.
    const probe = { id: 'volunteer-almaty-01', ...first.keys };
    const m = makeMeasurement({ probeId: probe.id, at: c.clock.now() - 60_000, asn: 9198 });
    expect((await c.post(probe, [m])).status).toBe(200);
    for (let i = 0; i < 50 && c.collector.store.probe(probe.id)?.last_seen === null; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100)); // the measurement index follows the archive
    const listed = JSON.parse((await cli(c, 'probes', '--json')).out) as { probes: Array<Record<string, unknown>> };
    expect(listed.probes).toEqual([
      expect.objectContaining({ id: probe.id, note: 'Almaty, home fibre', role: 'probe', state: 'active', asn: 9198, cc: 'KZ', measurements: 1, software: expect.stringMatching(/^ashyq-probe /) }),
    ]);
    const table = (await cli(c, 'probes')).out;
    expect(table).toMatch(/^probe\s+state\s+network\s+last seen\s+measurements\s+software\s+note$/m);
    expect(table).toMatch(/volunteer-almaty-01\s+active\s+AS9198 KZ\s+\S+\s+1\s+ashyq-probe \S+\s+Almaty, home fibre/);

    // Revoked: its uploads are refused from now on.
    const revoked = await cli(c, 'revoke', probe.id);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toMatch(/probe volunteer-almaty-01 revoked at .*: its uploads are refused from now on/);
    c.clock.advance(1000);
    const refused = await c.post(probe, [makeMeasurement({ probeId: probe.id, at: c.clock.now() - 30_000 })]);
    expect([refused.status, (refused.json() as { error: { code: string } }).error.code]).toEqual([403, 'probe_revoked']);
    expect((JSON.parse((await cli(c, 'probes', '--json')).out) as { probes: Array<{ state: string }> }).probes[0]!.state).toBe('revoked');
    expect((await cli(c, 'revoke', 'no-such-probe-1')).err).toMatch(/revoke no-such-probe-1: no probe is registered with this id/);
  });

  it('an expired invite enrolls nobody; bad options are named', async () => {
    const c = await startCollector();
    running.push(c);
    const made = await cli(c, 'invite', '--url', c.url, '--expires', '2h', '--json');
    const { invite } = JSON.parse(made.out) as { invite: string };
    c.clock.advance(2 * 3600_000);
    const late = await register(c, decodeInvite(invite).secret);
    expect([late.res.status, late.body.error?.code]).toEqual([403, 'invite_expired']);
    expect((await cli(c, 'invite')).err).toMatch(/invite: --url URL is required/);
    expect((await cli(c, 'invite', '--url', 'http://collector.example.org')).err).toMatch(/must be https:\/\/ \(plain http only to a loopback address\)/);
    expect((await cli(c, 'invite', '--url', 'https://collector.example.org')).err).toMatch(/an https collector needs its key pin/);
    expect((await cli(c, 'invite', '--url', c.url, '--expires', '100d')).err).toMatch(/at most 90 days/);
    expect((await cli(c, 'probes')).out).toBe('no probes registered yet (ashyq-collector invite makes an invite for one)\n');
  });
});
