// Parses an X.509 distinguished name as printed by Node or OpenSSL into attribute → values.

/**
 * Attribute names (upper-case) to their values, in the order they appear. Accepts the forms a
 * certificate subject is printed in: Node's X509Certificate ("C=KZ\nCN=Qaznet Trust Network"),
 * RFC 4514-like ("C=KZ, CN=Qaznet Trust Network" or "CN=…,O=ISCA,C=KZ") and OpenSSL's
 * forms ("/C=KZ/CN=Qaznet Trust Network", "C = KZ, CN = Qaznet Trust Network").
 */
export type DistinguishedName = Map<string, string[]>;

const KEY = '[A-Za-z][A-Za-z0-9.-]*';

function splitParts(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.includes('\n')) return trimmed.split(/\r?\n/);
  if (trimmed.startsWith('/')) return trimmed.slice(1).split(new RegExp(`/(?=${KEY}\\s*=)`));
  // A comma (or plus) only separates attributes when the next thing is "KEY="; values such as
  // "O=Meta Platforms, Inc." keep their comma. Escaped commas ("\,") are never separators.
  return trimmed.split(new RegExp(`(?<!\\\\)[,+]\\s*(?=${KEY}\\s*=)`));
}

function unescape(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

export function parseDistinguishedName(text: string): DistinguishedName {
  const out: DistinguishedName = new Map();
  for (const part of splitParts(text)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim().toUpperCase();
    const value = unescape(part.slice(eq + 1).trim());
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

/** The first value of an attribute, e.g. the CN, or null. */
export function attribute(dn: DistinguishedName, key: string): string | null {
  return dn.get(key.toUpperCase())?.[0] ?? null;
}

/**
 * Whether every attribute of `pattern` is present in `dn` with an equal value (case-insensitive,
 * surrounding whitespace ignored). Attributes of `dn` that the pattern does not name are ignored.
 */
export function dnMatches(dn: DistinguishedName, pattern: Readonly<Record<string, string>>): boolean {
  const entries = Object.entries(pattern);
  if (entries.length === 0) return false;
  return entries.every(([key, want]) => {
    const values = dn.get(key.toUpperCase());
    const w = want.trim().toLowerCase();
    return values !== undefined && values.some((v) => v.trim().toLowerCase() === w);
  });
}

/** A short human form for reasons: the CN (or O) plus the country when present. */
export function describeDn(text: string): string {
  const dn = parseDistinguishedName(text);
  const name = attribute(dn, 'CN') ?? attribute(dn, 'O') ?? text.trim();
  const org = attribute(dn, 'O');
  const cc = attribute(dn, 'C');
  const extra = [org !== null && org !== name ? `O=${org}` : null, cc !== null ? `C=${cc}` : null].filter(
    (x): x is string => x !== null,
  );
  return extra.length > 0 ? `"${name}" (${extra.join(', ')})` : `"${name}"`;
}
