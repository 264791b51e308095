// The system's configured resolvers, from resolv.conf: asked directly (as well as through getaddrinfo) to tell a timeout from SERVFAIL or REFUSED.
import { readFile } from 'node:fs/promises';
import net from 'node:net';

export interface NameServer {
  address: string;
  port: number;
}

/** glibc reads at most this many nameserver lines. */
export const MAX_NAMESERVERS = 3;

/** The nameservers of resolv.conf text, in order (at most three, as glibc uses them; a zone id is dropped). */
export function parseResolvConf(text: string): NameServer[] {
  const out: NameServer[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (m === null) continue;
    const address = (m[1] ?? '').replace(/%.*$/, '');
    if (net.isIP(address) === 0 || out.some((s) => s.address === address)) continue;
    out.push({ address, port: 53 });
    if (out.length === MAX_NAMESERVERS) break;
  }
  return out;
}

/** The nameservers of a resolv.conf file; none when it cannot be read (the system resolver is then asked through getaddrinfo only). */
export async function readResolvConf(file = '/etc/resolv.conf'): Promise<NameServer[]> {
  try {
    return parseResolvConf(await readFile(file, 'utf8'));
  } catch {
    return [];
  }
}
