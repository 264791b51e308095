// Loads targets.yaml into fully-defaulted Target objects, validated once; every problem names file:line and key.
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { ConfigError, ConfigErrors } from '../common/errors.js';
import { CATEGORIES } from './target.js';
import type { Category, Endpoint, HttpExpectation, Target } from './target.js';
import { isHostname, isIpAddress } from '../common/hostname.js';
import { PACKAGE_NAMES } from '../common/version.js';
import { YamlSource } from '../common/yaml-source.js';
import type { YamlMap, YamlValue } from '../common/yaml-source.js';

/** The target file format this code reads and writes. */
export const TARGETS_VERSION = 1;

export const TARGET_ID = /^[a-z0-9][a-z0-9_-]*$/;
const TOP_KEYS = ['version', 'targets'] as const;
const TARGET_KEYS = ['id', 'name', 'category', 'canary', 'domains', 'endpoints', 'ports', 'tls_ports', 'private_ca', 'http', 'bulk'] as const;
const ENDPOINT_KEYS = ['ip', 'ports'] as const;
const HTTP_KEYS = ['path', 'status'] as const;
const CANARY_KINDS = ['domestic', 'international'] as const;
const DEFAULT_PORTS = [443];

/** Reads and validates a target file; throws ConfigErrors listing every problem found. */
export async function loadTargets(file: string): Promise<Target[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw unreadable(file, err);
  }
  return parseTargets(text, file);
}

/** Validates target-file text (YAML or JSON); `file` names it in messages. */
export function parseTargets(text: string, file: string): Target[] {
  const src = YamlSource.parse(text, file);
  src.throwIfProblems();
  const targets: Target[] = [];
  if (src.root.isNull) src.root.fail('the file has no content (expected a map with a "targets" list)');
  const top = src.root.isNull ? undefined : src.root.map(TOP_KEYS);
  if (top) {
    const version = top.get('version');
    if (version !== undefined && version.scalar !== TARGETS_VERSION) {
      version.fail(`unsupported version ${version.describe()} (this probe reads version ${TARGETS_VERSION})`);
    }
    const items = top.required('targets')?.list();
    if (items !== undefined && items.length === 0) top.get('targets')?.fail('expected at least one target');
    const ids = new Map<string, number | undefined>();
    for (const item of items ?? []) {
      const target = readTarget(item, ids);
      if (target) targets.push(target);
    }
  }
  src.throwIfProblems();
  return targets;
}

/** The target list as YAML that parseTargets reads back to the same objects. */
export function formatTargets(targets: readonly Target[]): string {
  const plain = targets.map((t) => ({
    id: t.id,
    name: t.name,
    category: t.category,
    ...(t.canary !== undefined ? { canary: t.canary } : {}),
    domains: t.domains,
    endpoints: t.endpoints.map((e) => ({ ip: e.ip, ports: e.ports })),
    ports: t.ports,
    tls_ports: t.tls_ports,
    ...(t.private_ca !== undefined && t.private_ca.length > 0 ? { private_ca: t.private_ca } : {}),
    http: t.http === null ? null : { path: t.http.path, status: t.http.status },
    ...(t.bulk !== undefined ? { bulk: t.bulk } : {}),
  }));
  return stringify({ version: TARGETS_VERSION, targets: plain }, { lineWidth: 0 });
}

/**
 * The targets.yaml shipped with the package: the nearest one up from this module that sits
 * beside the package's package.json: the repository's or the probe's own package (works from the
 * sources, from the built dist/ and from the installed probe package).
 */
export function packagedTargetsPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'targets.yaml');
    if (existsSync(candidate) && isAshyqPackage(path.join(dir, 'package.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new ConfigErrors([
    new ConfigError('targets.yaml', undefined, undefined, 'the target list shipped with ashyq was not found; set targets_file'),
  ]);
}

function isAshyqPackage(file: string): boolean {
  try {
    const name = (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' && PACKAGE_NAMES.includes(name);
  } catch {
    return false;
  }
}

/** A file that cannot be read is a config fault too: reported like the others. */
export function unreadable(file: string, err: unknown): ConfigErrors {
  const code = (err as { code?: unknown } | null)?.code;
  const why = typeof code === 'string' ? code : String(err);
  return new ConfigErrors([new ConfigError(file, undefined, undefined, `cannot read the file (${why})`)]);
}

function port(v: YamlValue): number | undefined {
  return v.integer(1, 65535);
}

/** A non-empty list of distinct ports. */
function portList(v: YamlValue): number[] | undefined {
  const ports = v.listOf(port);
  if (ports !== undefined && ports.length === 0) return v.fail('expected at least one port');
  return ports;
}

function hostname(v: YamlValue): string | undefined {
  return v.stringWhere('a lower-case hostname such as "www.youtube.com"', isHostname);
}

/** Reads one target; returns undefined (after reporting) when anything about it is wrong. */
function readTarget(item: YamlValue, ids: Map<string, number | undefined>): Target | undefined {
  const before = item.source.problems.length;
  const m = item.map(TARGET_KEYS);
  if (!m) return undefined;

  const idValue = m.required('id');
  const id = idValue?.stringWhere('an id of lower-case letters, digits, "-" and "_" (e.g. "youtube")', (s) => TARGET_ID.test(s) && s.length <= 64);
  if (id !== undefined && idValue) {
    if (ids.has(id)) idValue.fail(`duplicate id "${id}" (also at line ${ids.get(id) ?? '?'})`);
    else ids.set(id, idValue.line);
  }
  const name = m.required('name')?.stringWhere('a name of 1..100 characters', (s) => s.trim().length > 0 && s.length <= 100);
  const category = m.required('category')?.oneOf(CATEGORIES);
  const canary = readCanary(m, category);

  const domains = m.optional('domains', [] as string[], (v) => v.listOf(hostname));
  const ports = m.optional('ports', [...DEFAULT_PORTS], portList);
  const endpoints = m.optional('endpoints', [] as Endpoint[], (v) =>
    v.listOf((e) => readEndpoint(e, ports ?? DEFAULT_PORTS), (e) => e.ip),
  );
  const tlsPorts = readTlsPorts(m, ports, endpoints);
  const http = m.optional('http', null, readHttp);
  const privateCa = m.optional('private_ca', [] as string[], (v) => v.listOf(hostname));
  const privateCaValue = m.get('private_ca');
  if (privateCa && privateCaValue && domains !== undefined) {
    const stray = privateCa.filter((d) => !domains.includes(d));
    if (stray.length > 0) privateCaValue.fail(`private_ca names domains the target does not have: ${stray.join(', ')}`);
  }

  if (domains !== undefined && endpoints !== undefined && domains.length === 0 && endpoints.length === 0) {
    item.fail('a target needs at least one domain or endpoint');
  }
  const httpValue = m.get('http');
  if (http && httpValue && domains !== undefined && tlsPorts !== undefined && ports !== undefined) {
    if (domains.length === 0) httpValue.fail('http is fetched on domains, and this target has none');
    else if (!tlsPorts.includes(443) && !ports.includes(80)) {
      httpValue.fail('without 443 in tls_ports the fetch is plain HTTP on port 80, which is not in ports');
    }
  }
  const bulk = m.optional('bulk', null, (v) => readBulk(v, domains, ports, tlsPorts));

  if (item.source.problems.length !== before) return undefined;
  if (id === undefined || name === undefined || category === undefined) return undefined;
  if (domains === undefined || ports === undefined || endpoints === undefined || tlsPorts === undefined || http === undefined || bulk === undefined) {
    return undefined;
  }
  return {
    id,
    name,
    category,
    ...(canary !== undefined ? { canary } : {}),
    domains,
    endpoints,
    ports,
    tls_ports: tlsPorts,
    ...(privateCa !== undefined && privateCa.length > 0 ? { private_ca: privateCa } : {}),
    http,
    ...(bulk !== null ? { bulk } : {}),
  };
}

/** A bulk resource: an http(s) URL on one of the target's domains, over a port the target measures. */
function readBulk(v: YamlValue, domains: string[] | undefined, ports: number[] | undefined, tlsPorts: number[] | undefined): string | undefined {
  const text = v.string('an http:// or https:// URL');
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return v.fail(`not a URL: ${JSON.stringify(text)} (expected e.g. "https://i.ytimg.com/vi/ID/hqdefault.jpg")`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.hash !== '' || url.port !== '') {
    return v.fail(`expected an http:// or https:// URL without credentials, port or #fragment, got ${JSON.stringify(text)}`);
  }
  if (domains === undefined || ports === undefined || tlsPorts === undefined) return undefined;
  if (!domains.includes(url.hostname)) return v.fail(`the bulk URL's host ${url.hostname} is not one of the target's domains (${domains.join(', ') || 'none'})`);
  const https = url.protocol === 'https:';
  if (https ? !tlsPorts.includes(443) : !ports.includes(80)) {
    return v.fail(https ? 'an https bulk URL needs 443 in tls_ports' : 'an http bulk URL needs 80 in ports');
  }
  return text;
}

function readCanary(m: YamlMap, category: Category | undefined): Target['canary'] {
  if (category === undefined) return undefined;
  if (category === 'canary') return m.required('canary')?.oneOf(CANARY_KINDS);
  const v = m.get('canary');
  if (v !== undefined && !v.isNull) v.fail(`only targets of category canary have this field (category is ${category})`);
  return undefined;
}

function readEndpoint(v: YamlValue, targetPorts: number[]): Endpoint | undefined {
  const m = v.map(ENDPOINT_KEYS);
  if (!m) return undefined;
  const ip = m.required('ip')?.stringWhere('an IPv4 or IPv6 address', isIpAddress);
  const ports = m.optional('ports', targetPorts, portList);
  if (ip === undefined || ports === undefined) return undefined;
  return { ip, ports: [...ports] };
}

/** tls_ports defaults to [443] when 443 is among ports; every TLS port must be a port that is connected to. */
function readTlsPorts(m: YamlMap, ports: number[] | undefined, endpoints: Endpoint[] | undefined): number[] | undefined {
  const v = m.get('tls_ports');
  if (v === undefined || v.isNull) {
    if (ports === undefined) return undefined;
    return ports.includes(443) ? [443] : [];
  }
  const used = ports !== undefined && endpoints !== undefined ? new Set([...ports, ...endpoints.flatMap((e) => e.ports)]) : undefined;
  return v.listOf((p) => {
    const n = port(p);
    if (n === undefined || used === undefined || used.has(n)) return n;
    return p.fail(`port ${n} is not among the ports connected to (${[...used].sort((a, b) => a - b).join(', ')})`);
  });
}

function readHttp(v: YamlValue): HttpExpectation | undefined {
  const m = v.map(HTTP_KEYS);
  if (!m) return undefined;
  const pathValue = m.optional('path', '/', (p) =>
    p.stringWhere('a path starting with "/" and without spaces', (s) => s.startsWith('/') && !/[\s#]/.test(s)),
  );
  const statusValue = m.required('status');
  const status = statusValue?.listOf((s) => s.integer(100, 599));
  if (status !== undefined && status.length === 0) return statusValue?.fail('expected at least one status');
  if (pathValue === undefined || status === undefined) return undefined;
  return { path: pathValue, status };
}
