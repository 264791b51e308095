// The lab's DNS injector forges answers only for poisoned names (and their subdomains), A only, mirroring the query.
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { forgedFor, forgeResponse } from './injector.js';

const poison = new Map([['twitter.com', '192.88.99.66']]);

function query(name: string, type: 'A' | 'AAAA', id = 4242): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
}

describe('lab DNS injector', () => {
  it('matches the poisoned name and its subdomains, not look-alikes', () => {
    expect(forgedFor('twitter.com', poison)).toBe('192.88.99.66');
    expect(forgedFor('API.Twitter.com.', poison)).toBe('192.88.99.66');
    expect(forgedFor('nottwitter.com', poison)).toBeNull();
    expect(forgedFor('twitter.com.evil.net', poison)).toBeNull();
  });

  it('answers an A query for a poisoned name with the forged address, same id and question', () => {
    const answer = forgeResponse(query('twitter.com', 'A'), poison);
    expect(answer).not.toBeNull();
    const decoded = dnsPacket.decode(answer as Buffer);
    expect(decoded.type).toBe('response');
    expect(decoded.id).toBe(4242);
    expect(decoded.questions).toEqual([{ type: 'A', name: 'twitter.com', class: 'IN' }]);
    expect(decoded.answers?.map((a) => (a as { data: unknown }).data)).toEqual(['192.88.99.66']);
  });

  it('stays silent for other names, other types, responses and garbage', () => {
    expect(forgeResponse(query('youtube.com', 'A'), poison)).toBeNull();
    expect(forgeResponse(query('twitter.com', 'AAAA'), poison)).toBeNull();
    const response = forgeResponse(query('twitter.com', 'A'), poison) as Buffer;
    expect(forgeResponse(response, poison)).toBeNull();
    expect(forgeResponse(Buffer.from('not dns'), poison)).toBeNull();
  });
});
