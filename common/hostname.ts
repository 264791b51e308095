// Hostname and IP literal checks shared by the config loaders.
import net from 'node:net';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A fully qualified DNS name in lower case, without a trailing dot: at least two labels of
 * letters, digits and inner hyphens (1..63 characters each, 253 in all), not ending in a numeric
 * label (so that an IPv4 literal is never taken for a name).
 */
export function isHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (labels.length < 2) return false;
  if (!labels.every((l) => LABEL.test(l))) return false;
  return !/^[0-9]+$/.test(labels[labels.length - 1] ?? '');
}

/** An IPv4 or IPv6 literal without a zone (`%eth0`), as net.isIP accepts it. */
export function isIpAddress(text: string): boolean {
  return !text.includes('%') && net.isIP(text) !== 0;
}
