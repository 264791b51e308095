// The upload wire format: the exact signing string, signBatch/verifyBatch round trips and every refusal.
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodeBatch, sha256Hex, signBatch, signingString, verifyBatch } from '../contract/wire.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const NOW = 1_715_238_000_000;
const body = encodeBatch({ probe_id: 'probe-0001', measurements: [] });

describe('wire', () => {
  it('signs the documented string: context, probe id, timestamp, sha256 hex of the gzip body', () => {
    const hash = createHash('sha256').update(body).digest('hex');
    expect(signingString('probe-0001', NOW, body)).toBe(`ashyq-batch-v1\nprobe-0001\n${NOW}\n${hash}`);
    expect(sha256Hex(body)).toBe(hash);
    const headers = signBatch(privateKey, 'probe-0001', body, NOW);
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'x-ashyq-probe': 'probe-0001',
      'x-ashyq-timestamp': String(NOW),
    });
    const signature = Buffer.from(headers['x-ashyq-signature'], 'base64');
    expect(signature).toHaveLength(64);
    expect(verify(null, Buffer.from(`ashyq-batch-v1\nprobe-0001\n${NOW}\n${hash}`), publicKey, signature)).toBe(true);
    expect(JSON.parse(gunzipSync(body).toString())).toEqual({ probe_id: 'probe-0001', measurements: [] });
  });

  it('verifies with a KeyObject or a PEM, within the skew on both sides', () => {
    const headers = signBatch(privateKey, 'probe-0001', body, NOW);
    expect(verifyBatch(publicKey, { ...headers }, body, NOW, 300_000)).toEqual({ ok: true });
    expect(verifyBatch(PEM, { ...headers }, body, NOW + 300_000, 300_000)).toEqual({ ok: true });
    expect(verifyBatch(PEM, { ...headers }, body, NOW - 300_000, 300_000)).toEqual({ ok: true });
    expect(verifyBatch(PEM, { ...headers }, body, NOW + 300_001, 300_000)).toMatchObject({ ok: false, reason: 'timestamp_skew' });
    expect(verifyBatch(PEM, { ...headers }, body, NOW - 300_001, 300_000)).toMatchObject({ ok: false, reason: 'timestamp_skew' });
  });

  it('refuses another key, another body, another probe id, another timestamp and malformed headers', () => {
    const headers = signBatch(privateKey, 'probe-0001', body, NOW);
    const other = generateKeyPairSync('ed25519').publicKey;
    const bad = (h: Record<string, string | string[] | undefined>, b = body, key = publicKey) => verifyBatch(key, h, b, NOW, 300_000);
    expect(bad({ ...headers }, body, other)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(bad({ ...headers }, encodeBatch({ probe_id: 'probe-0001', measurements: [] as never[] }).subarray(1))).toMatchObject({ reason: 'bad_signature' });
    expect(bad({ ...headers, 'x-ashyq-probe': 'probe-0002' })).toMatchObject({ reason: 'bad_signature' });
    expect(bad({ ...headers, 'x-ashyq-timestamp': String(NOW + 1) })).toMatchObject({ reason: 'bad_signature' });
    expect(bad({ ...headers, 'x-ashyq-timestamp': '1.7e12' })).toMatchObject({ reason: 'bad_signature' });
    expect(bad({ ...headers, 'x-ashyq-signature': 'AAAA' })).toMatchObject({ reason: 'bad_signature' });
    expect(bad({ ...headers, 'x-ashyq-signature': undefined })).toMatchObject({ reason: 'missing_signature' });
    expect(bad({ ...headers, 'x-ashyq-probe': ['probe-0001', 'probe-0001'] })).toMatchObject({ reason: 'missing_signature' });
    expect(bad({ ...headers, 'x-ashyq-probe': 'probe\n0001' })).toMatchObject({ reason: 'missing_signature' });
  });
});
