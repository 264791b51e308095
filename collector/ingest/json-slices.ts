// Finds the bytes of each element of a batch's `measurements` array, so the archive can keep them as received instead of serialising the parsed value again.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const NEWLINE = 0x0a;
const COLON = 0x3a;

/** One element's bytes (a view into the document) and how many `key: value` pairs they hold at any depth. */
export interface ElementBytes {
  json: Buffer;
  pairs: number;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === NEWLINE || c === 0x0d;
}

/** The element between `start` and `end` (exclusive) without the whitespace around it. */
function trimmed(json: Buffer, start: number, end: number): Buffer {
  while (start < end && isSpace(json[start]!)) start++;
  while (end > start && isSpace(json[end - 1]!)) end--;
  return json.subarray(start, end);
}

/**
 * The bytes of each element of the array under `key` in the top-level object of `json`, which
 * must be UTF-8 JSON that `JSON.parse` accepted: this only finds boundaries and counts pairs,
 * it checks nothing else. Each element's bytes parse to the same value as that element of the
 * parsed document. Returns null when the top level is not an object or the key is absent, written
 * with an escape, present twice or not an array: the caller then serialises the parsed values.
 */
export function arrayElements(json: Buffer, key: string): ElementBytes[] | null {
  const name = Buffer.from(key, 'utf8');
  const n = json.length;
  let depth = 0;
  let expectKey = false;
  let atKey = false;
  let found = false;
  let inArray = false;
  let elementStart = -1;
  let pairs = 0;
  const out: ElementBytes[] = [];
  for (let i = 0; i < n; i++) {
    const c = json[i]!;
    if (c === QUOTE) {
      const open = i;
      let escaped = false;
      for (i++; i < n; i++) {
        const d = json[i]!;
        if (d === BACKSLASH) {
          i++;
          escaped = true;
        } else if (d === QUOTE) break;
      }
      if (i >= n) return null;
      if (depth === 1 && expectKey) {
        expectKey = false;
        if (escaped) return null; // an escaped key: only JSON.parse's reading of it counts
        atKey = i - open - 1 === name.length && json.compare(name, 0, name.length, open + 1, i) === 0;
      }
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      if (depth === 1) {
        if (c !== OPEN_OBJECT) return null;
        expectKey = true;
      } else if (depth === 2 && atKey) {
        if (found || c !== OPEN_ARRAY) return null;
        found = true;
        inArray = true;
        elementStart = i + 1;
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (inArray && depth === 2) {
        const element = trimmed(json, elementStart, i);
        if (element.length > 0) out.push({ json: element, pairs });
        inArray = false;
      }
      depth--;
      if (depth === 1) atKey = false;
    } else if (c === COMMA) {
      if (depth === 1) {
        expectKey = true;
        atKey = false;
      } else if (inArray && depth === 2) {
        out.push({ json: trimmed(json, elementStart, i), pairs });
        elementStart = i + 1;
        pairs = 0;
      }
    } else if (c === COLON && inArray) {
      pairs++;
    }
  }
  return found ? out : null;
}

/** How many `key: value` pairs a parsed JSON value holds at any depth. */
export function pairCount(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) {
    for (const item of value) n += pairCount(item);
    return n;
  }
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) n += 1 + pairCount((value as Record<string, unknown>)[keys[i]!]);
  return n;
}

/**
 * The bytes of each measurement of a parsed batch for the archive, or null for one that must be
 * serialised instead: every element when the count does not match, and an element that holds a
 * line break (whitespace between tokens; the archive keeps one record per line). The caller must
 * still compare `pairs` with the parsed value's pairCount: a key written twice leaves its first
 * value in the bytes though JSON.parse (and so validation) only saw the last.
 */
export function measurementBytes(json: Buffer, count: number): Array<ElementBytes | null> {
  const elements = arrayElements(json, 'measurements');
  if (elements === null || elements.length !== count) return new Array<ElementBytes | null>(count).fill(null);
  if (json.indexOf(NEWLINE) === -1) return elements; // what a probe sends (JSON.stringify writes no line breaks)
  return elements.map((e) => (e.json.indexOf(NEWLINE) === -1 ? e : null));
}
