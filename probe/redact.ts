// Removes IP addresses from text kept as evidence: a block page may echo the volunteer's own address.
import net from 'node:net';

const IPV4 = /(?<!\d|\d\.)(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)/g;
// Candidates: runs of hex digits, colons and dots with at least two colons; net.isIP confirms.
const IPV6 =
  /(?<![0-9A-Fa-f:.])(?:[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){1,6}:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![0-9A-Fa-f:])/g;

export const REDACTED_ADDRESS = '[address]';

/**
 * `text` with every IPv4 and IPv6 address replaced by "[address]". The probe cannot know its own
 * public address (it never looks it up), so every address in page text is removed: the addresses
 * of the services are kept elsewhere in the evidence (DNS answers, connects).
 */
export function redactAddresses(text: string): string {
  return text
    .replace(IPV6, (m) => (net.isIPv6(m) ? REDACTED_ADDRESS : m))
    .replace(IPV4, (m) => (net.isIPv4(m) ? REDACTED_ADDRESS : m));
}
