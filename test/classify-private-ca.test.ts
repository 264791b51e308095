// A service with its own CA (Signal): its untrusted-by-public-roots chain is normal, interception still shows.
import { describe, expect, it } from 'vitest';
import { classify } from '../probe/classify/classify.js';
import { change, cert, healthy, target, tls, tlsUntrusted } from './classify-builders.js';

const CHAT = 'chat.signal.org';
const signal = target({ id: 'signal', category: 'messenger', domains: [CHAT, 'cdn.signal.org'], http: null, private_ca: [CHAT] });
const ownChain = [cert(`CN=${CHAT}`, 'C=US, O=Signal Messenger, LLC, CN=Signal Messenger'), cert('C=US, O=Signal Messenger, LLC, CN=Signal Messenger', 'C=US, O=Signal Messenger, LLC, CN=Signal Messenger')];
const onChat = (t: { domain: string | null }) => t.domain === CHAT;

describe('private_ca targets', () => {
  it.each(['flags', 'failure'] as const)('an untrusted chain from the service own CA is ok (%s form)', (form) => {
    const evidence = change(healthy(signal), 'tls', onChat, (t) => tlsUntrusted(CHAT, t.ip, t.port, ownChain, form, 'SELF_SIGNED_CERT_IN_CHAIN'));
    expect(classify(signal, evidence).verdict).toBe('ok');
  });

  it('the same chain on a domain not marked private_ca is interception', () => {
    const other = { ...signal, private_ca: [] };
    const evidence = change(healthy(other), 'tls', onChat, (t) => tlsUntrusted(CHAT, t.ip, t.port, ownChain, 'flags', 'SELF_SIGNED_CERT_IN_CHAIN'));
    expect(classify(other, evidence).verdict).toBe('tls.interception');
  });

  it('a certificate for another name is still interception', () => {
    const evidence = change(healthy(signal), 'tls', onChat, (t) => tls(CHAT, t.ip, t.port, { hostname_ok: false, trusted: false, chain: ownChain }));
    expect(classify(signal, evidence).verdict).toBe('tls.interception');
  });

  it('a known interception CA is still interception at 0.99', () => {
    const qaznet = [cert(`CN=${CHAT}`, 'CN=Security Certificate, C=KZ'), cert('CN=Security Certificate, C=KZ', 'C=KZ, CN=Qaznet Trust Network')];
    const evidence = change(healthy(signal), 'tls', onChat, (t) => tlsUntrusted(CHAT, t.ip, t.port, qaznet));
    const d = classify(signal, evidence);
    expect(d.verdict).toBe('tls.interception');
    expect(d.confidence).toBe(0.99);
  });
});
