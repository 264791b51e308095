// Finding each measurement's bytes in a batch: every slice parses to the parsed element, odd documents fall back to serialising.
import { describe, expect, it } from 'vitest';
import { arrayElements, measurementBytes, pairCount } from '../collector/ingest/json-slices.js';

function slices(text: string): unknown[] | null {
  const out = arrayElements(Buffer.from(text, 'utf8'), 'measurements');
  if (out === null) return null;
  const values = out.map((e) => JSON.parse(e.json.toString('utf8')) as unknown);
  // Without a key written twice, the pairs counted in the bytes are the pairs of the value.
  expect(out.map((e) => e.pairs)).toEqual(values.map(pairCount));
  return values;
}

describe('arrayElements', () => {
  it.each([
    ['compact', JSON.stringify({ probe_id: 'p', measurements: [{ a: 1 }, { b: [1, 2, { c: '}' }] }] })],
    ['pretty-printed', JSON.stringify({ probe_id: 'p', measurements: [{ a: 1, s: 'x, y' }, { b: [[], {}] }] }, null, 2)],
    ['key after the array', '{"measurements":[{"a":"]"},{"b":"\\"],["}],"probe_id":"p"}'],
    ['escapes at string ends', '{"x":"\\\\","measurements":[{"s":"\\\\"},{"s":"a\\\\\\""},{"s":"\\u0022"}]}'],
    ['nested key of the same name', '{"other":{"measurements":[9]},"measurements":[{"measurements":[1,2]},{"z":null}]}'],
    ['non-ASCII and surrogates', '{"measurements":[{"s":"Қазақстан ✓ 😀"},{"s":"\\ud800"},{"s":"\u2028"}]}'],
    ['empty', '{"probe_id":"p","measurements":[ ]}'],
    ['scalars and whitespace', '{ "measurements" : [ 1 ,\t"two" ,\r\n null , -0 , 1e2 ] }'],
  ])('%s: each slice parses to the element', (_name, text) => {
    expect(slices(text)).toEqual((JSON.parse(text) as { measurements: unknown[] }).measurements);
  });

  it('agrees with JSON.parse on random documents, compact and indented', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed % n;
    };
    const pieces = ['"', '\\', '\\"', '[', ']', '{', '}', ',', ':', ' ', '\n', 'é', '😀', 'a'];
    const text = () => Array.from({ length: rand(6) }, () => pieces[rand(pieces.length)]).join('');
    const value = (depth: number): unknown => {
      switch (depth > 3 ? rand(4) : rand(6)) {
        case 0:
          return text();
        case 1:
          return rand(1000) - 500;
        case 2:
          return rand(2) === 0 ? null : true;
        case 3:
          return rand(100) / 7;
        case 4:
          return Array.from({ length: rand(4) }, () => value(depth + 1));
        default:
          return Object.fromEntries(Array.from({ length: rand(4) }, () => [text(), value(depth + 1)]));
      }
    };
    for (let i = 0; i < 300; i++) {
      // (A top-level key written with an escape makes it give up: covered below.)
      const key = text().replace(/["\\\n]/g, '_');
      const doc = { [key]: value(1), measurements: Array.from({ length: rand(5) }, () => value(1)), probe_id: text() };
      for (const t of [JSON.stringify(doc), JSON.stringify(doc, null, 1)]) {
        expect(slices(t)).toEqual((JSON.parse(t) as { measurements: unknown[] }).measurements);
      }
    }
  });

  it.each([
    ['an escaped key', '{"measurem\\u0065nts":[{"a":1}]}'],
    ['the key twice', '{"measurements":[{"a":1}],"measurements":[{"b":2}]}'],
    ['not an array', '{"measurements":{"a":[1]}}'],
    ['absent', '{"probe_id":"p"}'],
    ['a top-level array', '[{"measurements":[1]}]'],
  ])('gives up on %s', (_name, text) => {
    JSON.parse(text); // valid JSON: only the shape is odd
    expect(slices(text)).toBeNull();
  });
});

describe('measurementBytes', () => {
  it('gives every element when the count matches, none when it does not', () => {
    const json = Buffer.from(JSON.stringify({ measurements: [{ a: 1 }, { b: 2 }] }));
    expect(measurementBytes(json, 2).map((e) => e?.json.toString())).toEqual(['{"a":1}', '{"b":2}']);
    expect(measurementBytes(json, 3)).toEqual([null, null, null]);
  });

  it('leaves out an element that holds a line break (the archive keeps one record per line)', () => {
    const json = Buffer.from('{"measurements":[\n{"a":1},\n{"b":\n2}\n]}');
    expect(measurementBytes(json, 2).map((e) => e?.json.toString() ?? null)).toEqual(['{"a":1}', null]);
  });

  it('counts more pairs in the bytes than in the value when a key is written twice, at any depth', () => {
    for (const text of ['{"measurements":[{"a":1,"a":2}]}', '{"measurements":[{"a":{"b":[{"c":1,"c":{"x":1}}]}}]}']) {
      const [element] = measurementBytes(Buffer.from(text), 1);
      const parsed = (JSON.parse(text) as { measurements: unknown[] }).measurements[0];
      expect(element!.pairs).toBeGreaterThan(pairCount(parsed));
    }
  });
});
