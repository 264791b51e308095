// YAML read with positions kept: typed accessors that report every problem as FILE:LINE: key.path: problem.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node } from 'yaml';
import { ConfigError, ConfigErrors } from './errors.js';

/** A place in the file: the key path (e.g. `targets[3].ports[1]`, '' for the root) and its line. */
export interface Place {
  path: string;
  line: number | undefined;
}

/** One parsed YAML file plus the problems found in it so far. */
export class YamlSource {
  readonly file: string;
  readonly problems: ConfigError[] = [];
  /** The document's top value; its node is null when the file is empty or only comments. */
  readonly root: YamlValue;
  /** False when the text is not well-formed YAML: the tree is then not worth validating. */
  readonly wellFormed: boolean;
  private readonly doc: Document.Parsed | null;
  private readonly lines = new LineCounter();
  /** Last line holding text: errors at the end of the input (an unclosed list) are shown there. */
  private readonly lastLine: number;

  private constructor(text: string, file: string) {
    this.file = file;
    this.lastLine = Math.max(1, text.replace(/(\r?\n)+$/, '').split(/\r?\n/).length);
    let doc: Document.Parsed | null = null;
    try {
      // Duplicate keys are found by YamlMap (with both lines and the key path), so yaml keeps them.
      doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: false, prettyErrors: true });
    } catch (err) {
      this.report({ path: '', line: undefined }, `not readable as YAML (${String(err)})`);
    }
    this.doc = doc;
    for (const issue of [...(doc?.errors ?? []), ...(doc?.warnings ?? [])]) {
      const at = issue.linePos?.[0].line;
      const line = at === undefined ? undefined : Math.min(at, this.lastLine);
      const what = issue.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
      this.report({ path: '', line }, `YAML ${issue.name === 'YAMLWarning' ? 'problem' : 'syntax error'}: ${what}`);
    }
    this.wellFormed = doc !== null && this.problems.length === 0;
    const top = (doc?.contents ?? null) as Node | null;
    this.root = this.value(top, '', top ? this.lineOf(top) : 1);
  }

  static parse(text: string, file: string): YamlSource {
    return new YamlSource(text, file);
  }

  /** Records a problem at a place; validation goes on so that one run reports every problem. */
  report(at: Place, problem: string): void {
    this.problems.push(new ConfigError(this.file, at.line, at.path === '' ? undefined : at.path, problem));
  }

  /** Throws every problem recorded so far, together, as ConfigErrors. */
  throwIfProblems(): void {
    if (this.problems.length > 0) throw new ConfigErrors([...this.problems].sort(byLine));
  }

  /** 1-based line of a node's first character. */
  lineOf(node: Node): number | undefined {
    const offset = node.range?.[0];
    return offset == null ? undefined : this.lines.linePos(offset).line;
  }

  /** Wraps a node found at `path`, resolving aliases (the alias's own line is kept: that is where it is used). */
  value(node: Node | null, path: string, line: number | undefined): YamlValue {
    if (node && isAlias(node)) {
      const target = this.doc ? node.resolve(this.doc) : undefined;
      if (target === undefined) {
        this.report({ path, line }, `alias *${node.source} refers to no anchor`);
        return new YamlValue(this, null, path, line, true);
      }
      return new YamlValue(this, target, path, line, false);
    }
    return new YamlValue(this, node, path, line, false);
  }
}

function byLine(a: ConfigError, b: ConfigError): number {
  return (a.line ?? 0) - (b.line ?? 0);
}

/** Keeps a text short enough to quote in a message. */
function quote(text: string): string {
  const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
  return JSON.stringify(shown);
}

/** One value of the document at a known place, with checks that report and return undefined on failure. */
export class YamlValue implements Place {
  constructor(
    readonly source: YamlSource,
    /** null: absent or empty. */
    readonly node: Node | null,
    readonly path: string,
    readonly line: number | undefined,
    /** Already reported (e.g. a dangling alias): checks stay silent. */
    private readonly broken: boolean,
  ) {}

  /** The plain value of a scalar (undefined for collections). */
  get scalar(): unknown {
    if (this.node === null) return null;
    return isScalar(this.node) ? this.node.value : undefined;
  }

  /** An explicit null (`~`, `null` or nothing) or an absent node. */
  get isNull(): boolean {
    return this.node === null || (isScalar(this.node) && this.node.value === null);
  }

  /** How the value looks, for "got ..." in messages. */
  describe(): string {
    const node = this.node;
    if (node === null) return 'nothing';
    if (isMap(node)) return 'a map';
    if (isSeq(node)) return 'a list';
    if (!isScalar(node)) return 'an unsupported YAML node';
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return v === '' ? 'an empty string' : quote(v);
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
    if (v instanceof Date) return `a date (${Number.isNaN(v.getTime()) ? 'invalid' : v.toISOString()})`;
    return quote(String(v));
  }

  /** Reports a problem here (unless the value was already reported as broken). */
  fail(problem: string): undefined {
    if (!this.broken) this.source.report(this, problem);
    return undefined;
  }

  /** "expected X, got Y". */
  expected(what: string): undefined {
    return this.fail(`expected ${what}, got ${this.describe()}`);
  }

  string(what = 'a string'): string | undefined {
    const v = this.scalar;
    if (typeof v !== 'string' || v.length === 0) return this.expected(what);
    return v;
  }

  /** A string matching a predicate; `what` describes a good one ("a lower-case hostname"). */
  stringWhere(what: string, ok: (s: string) => boolean): string | undefined {
    const v = this.scalar;
    if (typeof v !== 'string' || !ok(v)) return this.expected(what);
    return v;
  }

  integer(min: number, max: number): number | undefined {
    const v = this.scalar;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      return this.expected(`an integer ${min}..${max}`);
    }
    return v;
  }

  oneOf<T extends string>(choices: readonly T[]): T | undefined {
    const v = this.scalar;
    if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
    return this.expected(`one of ${choices.join(', ')}`);
  }

  /** The items of a list, each at its own place. */
  list(): YamlValue[] | undefined {
    const node = this.node;
    if (node === null || !isSeq(node)) return this.expected('a list');
    return node.items.map((item, i) => {
      const child = (item ?? null) as Node | null;
      const line = child ? (this.source.lineOf(child) ?? this.line) : this.line;
      return this.source.value(child, `${this.path}[${i}]`, line);
    });
  }

  /**
   * A list whose items are read by `each` (which reports its own problems); duplicates by `keyOf`
   * are reported. Returns undefined when the value is not a list or any item is bad.
   */
  listOf<T>(each: (item: YamlValue) => T | undefined, keyOf: (t: T) => string = String): T[] | undefined {
    const items = this.list();
    if (items === undefined) return undefined;
    const out: T[] = [];
    const seen = new Map<string, YamlValue>();
    let bad = false;
    for (const item of items) {
      const v = each(item);
      if (v === undefined) {
        bad = true;
        continue;
      }
      const key = keyOf(v);
      const first = seen.get(key);
      if (first) {
        item.fail(`duplicate ${quote(key)} (already listed at line ${first.line ?? '?'})`);
        bad = true;
        continue;
      }
      seen.set(key, item);
      out.push(v);
    }
    return bad ? undefined : out;
  }

  /** The value as a map whose keys must be among `allowed`; unknown and repeated keys are reported. */
  map(allowed: readonly string[]): YamlMap | undefined {
    const node = this.node;
    if (node === null || !isMap(node)) return this.expected('a map');
    return new YamlMap(this, allowed);
  }
}

/** A map read against a closed set of keys. */
export class YamlMap {
  private readonly fields = new Map<string, { key: Place; value: YamlValue }>();

  constructor(
    readonly self: YamlValue,
    readonly allowed: readonly string[],
  ) {
    const node = self.node;
    if (node === null || !isMap(node)) return;
    const src = self.source;
    const prefix = self.path === '' ? '' : `${self.path}.`;
    for (const pair of node.items) {
      const keyNode = (pair.key ?? null) as Node | null;
      const keyLine = (keyNode ? src.lineOf(keyNode) : undefined) ?? self.line;
      const keyValue = keyNode && isScalar(keyNode) ? keyNode.value : undefined;
      if (keyValue === undefined || keyValue === null || typeof keyValue === 'object') {
        src.report({ path: self.path, line: keyLine }, `map keys must be plain names, got ${keyNode ? 'a complex key' : 'an empty key'}`);
        continue;
      }
      const name = String(keyValue);
      const keyPlace: Place = { path: `${prefix}${name}`, line: keyLine };
      const first = this.fields.get(name);
      if (first) {
        src.report(keyPlace, `duplicate key (first at line ${first.key.line ?? '?'})`);
        continue;
      }
      if (!allowed.includes(name)) {
        src.report(keyPlace, `unknown key ${quote(name)} (allowed: ${allowed.join(', ')})`);
        continue;
      }
      const valueNode = (pair.value ?? null) as Node | null;
      // An empty value (`ports:`) has no text of its own: name the key's line.
      const range = valueNode?.range;
      const emptyText = valueNode === null || (range != null && range[0] === range[1]);
      const valueLine = emptyText ? keyLine : (src.lineOf(valueNode) ?? keyLine);
      this.fields.set(name, { key: keyPlace, value: src.value(valueNode, keyPlace.path, valueLine) });
    }
  }

  has(key: string): boolean {
    return this.fields.has(key);
  }

  /** The value under `key`, or undefined when the key is absent. */
  get(key: string): YamlValue | undefined {
    return this.fields.get(key)?.value;
  }

  /** The value under `key`; its absence is reported as a missing required field. */
  required(key: string): YamlValue | undefined {
    const v = this.get(key);
    if (v === undefined) {
      this.self.source.report(
        { path: this.self.path === '' ? key : `${this.self.path}.${key}`, line: this.self.line },
        'missing required field',
      );
    }
    return v;
  }

  /** Reads an optional key: absent or null gives the default, otherwise `read` decides. */
  optional<T, D>(key: string, fallback: D, read: (v: YamlValue) => T | undefined): T | D | undefined {
    const v = this.get(key);
    if (v === undefined || v.isNull) return fallback;
    return read(v);
  }
}
