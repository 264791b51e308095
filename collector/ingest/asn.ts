// IP → ASN, country and network name from range CSV files (bundled @ip-location-db packages or configured files).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ConfigError } from '../../common/errors.js';

export interface AsnInfo {
  asn: number | null;
  cc: string | null;
  network: string | null;
}

/** Looks an address up in memory; the address is not kept. Null when nothing is known. */
export type AsnLookup = (ip: string) => AsnInfo | null;

/** IPv4 as an unsigned 32-bit number, or null. */
export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** The upper 64 bits of an IPv6 address as [high 32, low 32], or null. */
export function parseIpv6High(text: string): [number, number] | null {
  let s = text;
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const toGroups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (const [i, piece] of pieces.entries()) {
      if (piece.includes('.')) {
        if (i !== pieces.length - 1) return null;
        const v4 = parseIpv4(piece);
        if (v4 === null) return null;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = toGroups(halves[0]!);
  const tail = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  } else {
    if (head.length !== 8) return null;
    groups = head;
  }
  return [groups[0]! * 65536 + groups[1]!, groups[2]! * 65536 + groups[3]!];
}

/** Split one CSV line (RFC 4180 quoting). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      while (i < line.length) {
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i];
        i++;
      }
      out.push(value);
      i++; // the comma
    } else {
      const comma = line.indexOf(',', i);
      const end = comma < 0 ? line.length : comma;
      out.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return out;
}

/** Sorted inclusive ranges of one address family, as typed arrays (handed between threads without copying). */
export interface FrozenRanges {
  starts: Float64Array;
  ends: Float64Array;
  values: Uint32Array;
}

/** Sorted inclusive ranges of one address family with a value index each. */
class Ranges {
  private starts: number[] = [];
  private ends: number[] = [];
  private values: number[] = [];
  private frozen: FrozenRanges | null = null;

  static of(frozen: FrozenRanges): Ranges {
    const r = new Ranges();
    r.frozen = frozen;
    return r;
  }

  /** The frozen arrays (after freeze()). */
  get arrays(): FrozenRanges {
    if (this.frozen === null) throw new Error('Ranges: freeze() first');
    return this.frozen;
  }

  add(start: number, end: number, value: number): void {
    this.starts.push(start);
    this.ends.push(end);
    this.values.push(value);
  }

  freeze(): void {
    const order = this.starts.map((_, i) => i);
    order.sort((a, b) => this.starts[a]! - this.starts[b]!);
    this.frozen = {
      starts: Float64Array.from(order, (i) => this.starts[i]!),
      ends: Float64Array.from(order, (i) => this.ends[i]!),
      values: Uint32Array.from(order, (i) => this.values[i]!),
    };
    this.starts = [];
    this.ends = [];
    this.values = [];
  }

  /** The value index of the last range starting at or before `key` that contains it. */
  find(key: number): number | null {
    const f = this.frozen;
    if (f === null || f.starts.length === 0) return null;
    let lo = 0;
    let hi = f.starts.length - 1;
    let hit = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (f.starts[mid]! <= key) {
        hit = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (hit < 0 || f.ends[hit]! < key) return null;
    return f.values[hit]!;
  }

  get size(): number {
    return this.frozen?.starts.length ?? this.starts.length;
  }
}

/**
 * IPv6 keys use the upper 48 bits (exact in a double): announced prefixes are /48 or shorter, so
 * longer prefixes share their /48's answer.
 */
function v6Key(high: [number, number]): number {
  return high[0] * 65536 + Math.floor(high[1] / 65536);
}

/** A frozen database as plain data: what a loading thread hands over. */
export interface FrozenDatabase<V> {
  v4: FrozenRanges;
  v6: FrozenRanges;
  values: V[];
}

/** One CSV database: ip_range_start, ip_range_end, then value columns. */
export class RangeDatabase<V> {
  private v4 = new Ranges();
  private v6 = new Ranges();
  private values: V[] = [];
  private readonly index = new Map<string, number>();

  static of<V>(data: FrozenDatabase<V>): RangeDatabase<V> {
    const db = new RangeDatabase<V>();
    db.v4 = Ranges.of(data.v4);
    db.v6 = Ranges.of(data.v6);
    db.values = data.values;
    return db;
  }

  /** The frozen database as data (after freeze()). */
  data(): FrozenDatabase<V> {
    return { v4: this.v4.arrays, v6: this.v6.arrays, values: this.values };
  }

  /** Add every row of a CSV text; `value` maps the columns after the range (null skips the row). */
  addCsv(text: string, value: (columns: string[]) => V | null, keyOf: (v: V) => string): number {
    let added = 0;
    let pos = 0;
    while (pos < text.length) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = text.length;
      const line = text.slice(pos, nl).replace(/\r$/, '');
      pos = nl + 1;
      if (line === '' || line.startsWith('#')) continue;
      const fields = csvFields(line);
      if (fields.length < 3) continue;
      const v = value(fields.slice(2));
      if (v === null) continue;
      const key = keyOf(v);
      let vi = this.index.get(key);
      if (vi === undefined) {
        vi = this.values.length;
        this.values.push(v);
        this.index.set(key, vi);
      }
      const s4 = parseIpv4(fields[0]!);
      const e4 = s4 === null ? null : parseIpv4(fields[1]!);
      if (s4 !== null && e4 !== null) {
        this.v4.add(s4, e4, vi);
        added++;
        continue;
      }
      const s6 = parseIpv6High(fields[0]!);
      const e6 = s6 === null ? null : parseIpv6High(fields[1]!);
      if (s6 !== null && e6 !== null) {
        this.v6.add(v6Key(s6), v6Key(e6), vi);
        added++;
      }
    }
    return added;
  }

  freeze(): this {
    this.v4.freeze();
    this.v6.freeze();
    return this;
  }

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  lookup(ip: string): V | null {
    const address = normaliseIp(ip);
    const v4 = parseIpv4(address);
    let vi: number | null = null;
    if (v4 !== null) vi = this.v4.find(v4);
    else {
      const high = parseIpv6High(address);
      if (high !== null) vi = this.v6.find(v6Key(high));
    }
    return vi === null ? null : (this.values[vi] ?? null);
  }
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d) as plain IPv4; zone ids dropped. */
export function normaliseIp(ip: string): string {
  const bare = ip.split('%')[0]!;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped ? mapped[1]! : bare;
}

export interface IpDatabaseFiles {
  /** CSV rows: ip_range_start, ip_range_end, asn, network name. */
  asn: string[];
  /** CSV rows: ip_range_start, ip_range_end, country code. */
  country: string[];
}

/** The CSV files of the npm packages @ip-location-db/asn and @ip-location-db/asn-country. */
export function bundledIpDatabaseFiles(): IpDatabaseFiles {
  const require = createRequire(import.meta.url);
  const dirOf = (pkg: string): string => {
    try {
      return path.dirname(require.resolve(`${pkg}/package.json`));
    } catch {
      throw new ConfigError('(ip_db)', undefined, 'ip_db', `the package ${pkg} is not installed; install it or set ip_db to CSV files`);
    }
  };
  const asnDir = dirOf('@ip-location-db/asn');
  const countryDir = dirOf('@ip-location-db/asn-country');
  return {
    asn: [path.join(asnDir, 'asn-ipv4.csv'), path.join(asnDir, 'asn-ipv6.csv')],
    country: [path.join(countryDir, 'asn-country-ipv4.csv'), path.join(countryDir, 'asn-country-ipv6.csv')],
  };
}

export interface AsnValue {
  asn: number;
  network: string | null;
}

/** Both databases, frozen, as data. */
export interface IpDatabaseData {
  asn: FrozenDatabase<AsnValue>;
  cc: FrozenDatabase<string>;
}

/** Read and parse the CSV files (on the calling thread): the frozen databases as data. */
export async function buildIpDatabase(files: IpDatabaseFiles): Promise<IpDatabaseData> {
  const asnDb = new RangeDatabase<AsnValue>();
  const ccDb = new RangeDatabase<string>();
  const read = async (file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(file, undefined, 'ip_db', `cannot read: ${(err as Error).message}`);
    }
  };
  for (const file of files.asn) {
    asnDb.addCsv(
      await read(file),
      (cols) => {
        const asn = Number(cols[0]);
        if (!Number.isInteger(asn) || asn < 0 || asn > 4_294_967_295) return null;
        const name = cols.slice(1).join(',').trim();
        return { asn, network: name === '' ? null : name };
      },
      (v) => `${v.asn}\u0000${v.network ?? ''}`,
    );
  }
  for (const file of files.country) {
    ccDb.addCsv(
      await read(file),
      (cols) => {
        const cc = (cols[0] ?? '').trim().toUpperCase();
        return /^[A-Z]{2}$/.test(cc) ? cc : null;
      },
      (v) => v,
    );
  }
  return { asn: asnDb.freeze().data(), cc: ccDb.freeze().data() };
}

/** The lookup over built databases. */
export function ipLookupOf(data: IpDatabaseData): { lookup: AsnLookup; ranges: number } {
  const asnDb = RangeDatabase.of(data.asn);
  const ccDb = RangeDatabase.of(data.cc);
  const lookup: AsnLookup = (ip) => {
    const a = asnDb.lookup(ip);
    const cc = ccDb.lookup(ip);
    if (a === null && cc === null) return null;
    return { asn: a?.asn ?? null, network: a?.network ?? null, cc };
  };
  return { lookup, ranges: asnDb.size + ccDb.size };
}

/** Messages of the loading thread (ip-db-worker.ts). */
export type FromIpDbWorker = { type: 'done'; data: IpDatabaseData } | { type: 'fail'; file: string | null; message: string };

/**
 * Load the CSV files and return the lookup. The files (tens of MB of text) are parsed in a thread of
 * their own, whose memory is given back when it ends: the collector keeps only the typed arrays of
 * the ranges (about 15 MB for the bundled databases) and their values. `inThread: false` parses here.
 */
export async function loadIpDatabase(files: IpDatabaseFiles, options: { inThread?: boolean } = {}): Promise<{ lookup: AsnLookup; ranges: number }> {
  if (options.inThread === false) return ipLookupOf(await buildIpDatabase(files));
  const { startWorker } = await import('../../common/worker.js');
  const worker = startWorker(new URL('./ip-db-worker.js', import.meta.url), import.meta.url, { workerData: files });
  const message = await new Promise<FromIpDbWorker>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the IP database thread stopped (exit code ${code})`)));
  });
  await worker.terminate();
  if (message.type === 'fail') throw message.file === null ? new Error(message.message) : new ConfigError(message.file, undefined, 'ip_db', message.message);
  return ipLookupOf(message.data);
}

/**
 * The network an archived measurement is attributed to, decided once at ingest and used as is by the
 * store, the time series, events and reports: the connection's lookup where it found an ASN (its
 * country and name where the database has them, else what the probe states), otherwise what the
 * probe states about itself (a proxied upload, or an address the database does not know).
 */
export function attribute(looked: AsnInfo | null, claimed: AsnInfo): AsnInfo {
  if (looked === null || looked.asn === null) return { asn: claimed.asn, cc: claimed.cc, network: claimed.network };
  return { asn: looked.asn, cc: looked.cc ?? claimed.cc, network: looked.network ?? claimed.network };
}
