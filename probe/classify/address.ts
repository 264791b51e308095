// Address and subject helpers for the classifier: comparable IP keys, subject names, short lists for reasons.

/** A comparable form of an IP: lower-case, IPv4-mapped IPv6 reduced to IPv4, zone id dropped. */
export function ipKey(ip: string): string {
  const lower = ip.trim().toLowerCase().replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped?.[1] ?? lower;
}

/** A comparable form of a domain: lower-case, no trailing dot. */
export function nameKey(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/** The subject name of a fixed endpoint's port: "149.154.167.51:443", "[2001:db8::1]:443". */
export function endpointSubject(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Up to `max` items joined with ", ", then "and N more". */
export function shortList(items: readonly string[], max = 3): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

export function sameAddressSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a.map(ipKey));
  const sb = new Set(b.map(ipKey));
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

export function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}
