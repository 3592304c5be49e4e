/**
 * Manifest text read the way `kubectl apply -f` reads it, so that the review sees what the cluster
 * gets. kubectl (sigs.k8s.io/yaml over go-yaml v2) does not read YAML 1.2:
 *
 * - a file whose first non-blank character is `{` is a stream of JSON objects, whatever its name;
 * - otherwise it is split into documents at lines starting with `---` (followed by nothing or a
 *   comment), and each document is read as YAML 1.1: `010` is 8, `0o10` 8, `0x10` 16, `1_000`
 *   1000, `08` 8; `yes`, `on`, `y` (and `no`, `off`, `n`) are booleans, in keys too (a key `y`
 *   is `"true"`); `1:20` and `2001-12-14` stay strings;
 * - merge keys (`<<: *base`, `<<: [*a, *b]`) are applied in order: a merge overwrites the keys
 *   before it, later keys overwrite it, and of a list of maps the first wins;
 * - a key given twice keeps its last value; non-string keys become strings (`8080:` is `"8080"`).
 *
 * What kubectl refuses (`.inf`, a `null` key, a map as a key, a list inside a list) or reads in a
 * way a reviewer would not expect (several YAML documents without a `---` line between them, of
 * which kubectl keeps only the first) is refused here with the file, document and line.
 */
import { Document, Scalar, YAMLMap, isAlias, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';

/** A document that cannot be read; `where` is `<file> document #<index>`, `line` 1-based in the file. */
export class DocumentError extends Error {
  constructor(public readonly index: number, public readonly line: number | undefined, message: string) {
    super(message);
    this.name = 'DocumentError';
  }
}

/**
 * The documents of a manifest file: `null` for an empty document, the value otherwise.
 * `fast: false` reads every YAML document with the full parser (tests compare both ways).
 */
export function readDocuments(text: string, options: ReadDocumentsOptions = {}): unknown[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return isJsonText(body) ? jsonDocuments(body) : yamlDocuments(body, options.fast !== false, options.maxFullParseBytes ?? DEFAULT_MAX_FULL_PARSE_BYTES);
}

/** Options of `readDocuments`. */
export interface ReadDocumentsOptions {
  /** Whether to try the fast reader first. @default true */
  readonly fast?: boolean;
  /**
   * Characters of one YAML document the full parser may be given: it needs about 40 times a
   * document's size in memory, so a larger document that the fast reader does not take (flow
   * collections, anchors, multi-line scalars) is refused rather than read into gigabytes.
   * @default DEFAULT_MAX_FULL_PARSE_BYTES (16 MiB)
   */
  readonly maxFullParseBytes?: number;
}

/** See `ReadDocumentsOptions.maxFullParseBytes`. */
const DEFAULT_MAX_FULL_PARSE_BYTES = 16 * 1024 * 1024;

/** kubectl's test: the first character that is not a space, tab, CR or LF is `{`. */
function isJsonText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b;
  }
  return false;
}

// ------------------------------------------------------------------------------------ JSON

function jsonDocuments(text: string): unknown[] {
  try {
    return [JSON.parse(text)];
  } catch {
    // several objects one after the other, or malformed: find out which, one value at a time
  }
  const out: unknown[] = [];
  let i = skipSpace(text, 0);
  while (i < text.length) {
    const index = out.length;
    if (text[i] !== '{') {
      throw new DocumentError(index, lineAt(text, i), `expected a JSON object, found ${JSON.stringify(text.slice(i, i + 20))} (kubectl reads a .json file as JSON objects one after the other)`);
    }
    const end = jsonValueEnd(text, i);
    if (end < 0) throw new DocumentError(index, lineAt(text, i), 'malformed JSON: the object is not closed');
    try {
      out.push(JSON.parse(text.slice(i, end)));
    } catch (e) {
      throw new DocumentError(index, lineAt(text, i), `malformed JSON: ${(e as Error).message}`);
    }
    i = skipSpace(text, end);
  }
  return out;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  return i;
}

/** The end (exclusive) of the JSON object or array starting at `start`, or -1. */
function jsonValueEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

// ------------------------------------------------------------------------------------ YAML

/** A `---` line as kubectl's YAML reader sees one: `---` at the start, then only blanks or a comment. */
const SEPARATOR = /^---[^\S\n]*(?:#[^\n]*)?$/gm;
const CONTENTLESS = /^(?:[^\S\n]*(?:#[^\n]*)?(?:\n|$))*$/;

/** The YAML documents of a text, split where kubectl splits them. */
function yamlDocuments(text: string, fast: boolean, maxFull: number): unknown[] {
  const chunks: Array<{ text: string; line: number }> = [];
  let start = 0;
  let line = 1;
  let counted = 0;
  const lineOf = (offset: number) => {
    for (let i = text.indexOf('\n', counted); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) { line++; counted = i + 1; }
    return line;
  };
  SEPARATOR.lastIndex = 0;
  for (let m = SEPARATOR.exec(text); m !== null; m = SEPARATOR.exec(text)) {
    chunks.push({ text: text.slice(start, m.index), line: start === 0 ? 1 : lineOf(start) });
    start = m.index + m[0].length + 1;
  }
  chunks.push({ text: start <= text.length ? text.slice(start) : '', line: start === 0 ? 1 : lineOf(Math.min(start, text.length)) });
  // A file that starts with `---` (or comments, then `---`): its first document is the one after.
  if (chunks.length > 1 && CONTENTLESS.test(chunks[0].text)) chunks.shift();
  return chunks.map((c, index) => yamlDocument(c.text, index, c.line, fast, maxFull));
}

const PARSE_OPTIONS = { schema: 'failsafe', version: '1.1', uniqueKeys: false, prettyErrors: false, keepSourceTokens: false } as const;

function yamlDocument(text: string, index: number, firstLine: number, fast: boolean, maxFull: number): unknown {
  const odd = /[\u0085\u2028\u2029]/.exec(text);
  if (odd) {
    throw new DocumentError(index, firstLine + lineAt(text, odd.index) - 1, `holds the character U+${odd[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}, which kubectl's YAML 1.1 reader takes for a line break where other readers do not; refusing it (escape it in a double-quoted string: "\\u${odd[0].charCodeAt(0).toString(16).padStart(4, '0')}")`);
  }
  const quick = fast ? fastBlockDocument(text) : undefined;
  if (quick !== undefined) return quick.value;
  if (text.length > maxFull) {
    throw new DocumentError(index, firstLine, `${(text.length / (1024 * 1024)).toFixed(1)} MiB of YAML that is not plain block style (flow collections, anchors, tags or multi-line scalars), which the full YAML parser reads only up to ${(maxFull / (1024 * 1024)).toFixed(1)} MiB a document (it needs about 40 times the size in memory); write it in block style or as JSON, split it, or raise --max-bytes (this limit is a quarter of it, at least 1 MiB)`);
  }
  const lineOf = (offset: number | undefined) => (offset === undefined ? undefined : firstLine + lineAt(text, offset) - 1);
  const parsed = parseAllDocuments(text, PARSE_OPTIONS);
  const docs: Document[] = Array.isArray(parsed) ? parsed : [];
  for (const d of docs) {
    if (d.errors.length > 0) {
      const e = d.errors[0];
      throw new DocumentError(index, lineOf(e.pos?.[0]), `malformed YAML: ${e.message.split('\n')[0]}`);
    }
  }
  const present = docs.filter((d) => d.contents !== null);
  if (present.length > 1) {
    throw new DocumentError(index, lineOf(present[1].range?.[0]), 'holds several YAML documents with no `---` line between them (a `...` line or a `--- <content>` line); kubectl reads only the first: put a line `---` between them');
  }
  if (present.length === 0) return null;
  return new Converter(text, index, lineOf).value(present[0].contents);
}

const YAML_TAG = 'tag:yaml.org,2002:';

/** go-yaml v2's literal values (resolve.go). */
const LITERALS = new Map<string, unknown>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((s) => [s, true] as [string, unknown]),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map((s) => [s, false] as [string, unknown]),
  ...['', '~', 'null', 'Null', 'NULL'].map((s) => [s, null] as [string, unknown]),
  ...['.nan', '.NaN', '.NAN'].map((s) => [s, NaN] as [string, unknown]),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, Infinity] as [string, unknown]),
  ...['-.inf', '-.Inf', '-.INF'].map((s) => [s, -Infinity] as [string, unknown]),
]);
/** Go's `strconv.ParseInt(s, 0, 64)` syntax (underscores already removed). */
const GO_INT = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))$/;
/** go-yaml v2's `yamlStyleFloat`. */
const GO_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const GO_DECIMAL_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/** The value of a plain (unquoted, untagged) scalar as go-yaml v2 resolves it. */
export function resolvePlain(s: string): unknown {
  if (s === '') return null;
  const c = s[0];
  const hint = (c >= '0' && c <= '9') ? 'D' : (c === '+' || c === '-') ? 'S' : 'yYnNtTfFoO~'.includes(c) ? 'M' : c === '.' ? '.' : '';
  if (hint === '') return s;
  if (LITERALS.has(s)) return LITERALS.get(s);
  if (hint === 'M') return s;
  if (hint === '.') {
    if (!GO_DECIMAL_FLOAT.test(s)) return s;
    const f = Number(s);
    return Number.isFinite(f) ? f : s;
  }
  const plain = s.replace(/_/g, '');
  const m = GO_INT.exec(plain);
  if (m) {
    const [, sign, hex, oct, bin, oct0, dec] = m;
    const digits = hex !== undefined ? `0x${hex}` : oct !== undefined ? `0o${oct}` : bin !== undefined ? `0b${bin}` : oct0 !== undefined ? (oct0 === '' ? '0' : `0o${oct0}`) : dec;
    const n = BigInt(digits) * (sign === '-' ? -1n : 1n);
    if (n >= -INT64_MAX - 1n && n <= (sign === '-' ? INT64_MAX : UINT64_MAX)) return Number(n);
  }
  if (GO_FLOAT.test(plain)) {
    const f = Number(plain);
    if (Number.isFinite(f)) return f;
  }
  return s;
}

/** YAML nodes to plain values, as sigs.k8s.io/yaml turns them into JSON. */
class Converter {
  private readonly anchors = new Map<string, unknown>();
  private readonly open = new Set<unknown>();
  /** Values produced; aliases that expand without end (a "billion laughs") run out of it. */
  private budget: number;

  constructor(text: string, private readonly index: number, private readonly lineOf: (offset: number | undefined) => number | undefined) {
    this.budget = 2 * text.length + 100_000;
  }

  private fail(node: any, message: string): never {
    throw new DocumentError(this.index, this.lineOf(node?.range?.[0]), message);
  }

  public value(node: any): unknown {
    if (node === null || node === undefined) return null;
    if (--this.budget < 0) this.fail(node, 'aliases expand it beyond any real manifest (a "billion laughs"); refusing to read it');
    if (isAlias(node)) {
      const target = this.anchors.get(node.source);
      if (target === undefined) this.fail(node, `unknown alias *${node.source}`);
      if (this.open.has(target)) this.fail(node, `alias *${node.source} refers to a node that contains it`);
      return this.value(target);
    }
    if (node.anchor) this.anchors.set(node.anchor, node);
    if (isScalar(node)) {
      const v = this.scalar(node);
      if (typeof v === 'number' && !Number.isFinite(v)) this.fail(node, `${String(node.source)} is not a number JSON can hold; kubectl refuses it`);
      return v;
    }
    this.checkTag(node, isSeq(node) ? 'seq' : 'map');
    this.open.add(node);
    try {
      if (isSeq(node)) return node.items.map((item) => this.value(item));
      if (isMap(node)) return this.map(node);
    } finally {
      this.open.delete(node);
    }
    return this.fail(node, 'unexpected YAML node');
  }

  private checkTag(node: any, kind: 'seq' | 'map') {
    const tag: string | undefined = node.tag;
    if (tag === undefined || tag === '!' || tag === `${YAML_TAG}${kind}` || !tag.startsWith(YAML_TAG)) return;
    this.fail(node, `the tag !!${tag.slice(YAML_TAG.length)} is not read here (kubectl would not read it as a Kubernetes field either)`);
  }

  private scalar(node: Scalar): unknown {
    const source = String(node.value ?? '');
    const tag: string | undefined = node.tag;
    if (tag === `${YAML_TAG}str`) return source;
    const plain = node.type === 'PLAIN';
    if (tag === undefined || tag === '!' || !tag.startsWith(YAML_TAG)) {
      // go-yaml reads a local tag (`!foo`) as no tag.
      return plain && tag !== '!' ? resolvePlain(source) : source;
    }
    const want = tag.slice(YAML_TAG.length);
    const v = resolvePlain(source);
    const got = v === null ? 'null' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? (Number.isInteger(v) && !/[.eE]/.test(source) ? 'int' : 'float') : 'str';
    if (want === got || (want === 'float' && got === 'int')) return v;
    return this.fail(node, `cannot read ${JSON.stringify(source)} as !!${want}`);
  }

  private key(node: any): string {
    let n = node;
    if (isAlias(n)) n = this.anchors.get(n.source) ?? this.fail(n, `unknown alias *${n.source}`);
    if (n === null || n === undefined) this.fail(node, 'a key is missing (kubectl refuses a null key)');
    if (!isScalar(n)) this.fail(n, 'a list or a map used as a key (kubectl refuses it)');
    const v = this.scalar(n);
    if (v === null) this.fail(n, `the key ${JSON.stringify(String(n.source ?? ''))} reads as null (kubectl refuses it); quote it`);
    if (typeof v === 'number' && !Number.isFinite(v)) this.fail(n, `the key ${String(n.source)} is not a number JSON can hold`);
    return String(v);
  }

  private map(node: YAMLMap): { [key: string]: unknown } {
    const out: { [key: string]: unknown } = {};
    for (const pair of node.items) {
      const k: any = pair.key;
      if (isScalar(k) && k.type === 'PLAIN' && k.tag === undefined && k.source === '<<') {
        this.merge(out, pair.value);
        continue;
      }
      set(out, this.key(k), this.value(pair.value));
    }
    return out;
  }

  /** go-yaml v2: a merged map overwrites what is there; of a list of maps, the first wins. */
  private merge(out: { [key: string]: unknown }, node: any) {
    const resolved = (n: any) => (isAlias(n) ? this.anchors.get(n.source) ?? this.fail(n, `unknown alias *${n.source}`) : n);
    const target = resolved(node);
    const maps = isSeq(target) ? [...target.items].reverse().map(resolved) : [target];
    for (const m of maps) {
      if (!isMap(m)) this.fail(m ?? node, 'a merge key (<<) takes a map or a list of maps');
      const v = this.value(m) as { [key: string]: unknown };
      for (const [k, x] of Object.entries(v)) set(out, k, x);
    }
  }
}

/** `out[key] = value`, also for a key named `__proto__` (an own property, as JSON has it). */
function set(out: { [key: string]: unknown }, key: string, value: unknown) {
  if (key === '__proto__') Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
  else out[key] = value;
}

// ------------------------------------------------------------------------------- fast path

/**
 * The fast path of `yamlDocument` for the block YAML that cdk8s writes and people usually write
 * (block maps and sequences, one-line plain and quoted scalars, `{}`, `[]`, `|` blocks, comments
 * on lines of their own or after plain values): the same value as the full parser and converter,
 * an order of magnitude sooner. Anything else (anchors, aliases, tags, merge keys, flow
 * collections with content, multi-line or folded scalars, tabs, escapes beyond JSON's) returns
 * undefined and goes the full way. `test/verify-yaml11.test.ts` checks both agree.
 */
export function fastBlockDocument(text: string): { value: unknown } | undefined {
  try {
    const p = new FastParser(text);
    p.skip();
    if (p.i >= p.lines.length) return { value: null };
    if (p.indent(p.i) !== 0) return undefined;
    const value = p.node(0);
    p.skip();
    return p.i >= p.lines.length ? { value } : undefined;
  } catch (e) {
    if (e === BAIL) return undefined;
    throw e;
  }
}

const BAIL = Symbol('bail');
const bail = (): never => { throw BAIL; };

/** A one-line plain scalar the fast path takes: no indicator first, no `: `, ` #` or tab, no trailing `:`. */
function fastPlain(v: string): boolean {
  if (v === '' || v.includes('\t') || v.includes(': ') || v.endsWith(':') || v.includes(' #')) return false;
  const c = v[0];
  if (c === '-' || c === '?' || c === ':') return v.length > 1 && !' ,[]{}#'.includes(v[1]);
  return !',[]{}#&*!|>\'"%@`'.includes(c);
}
const FAST_KEY = /^[A-Za-z0-9_./-](?:[A-Za-z0-9_./:-]*[A-Za-z0-9_./-])?$/;
const JSON_ESCAPES = /\\(?:[^"\\bfnrtu]|u(?![0-9a-fA-F]{4}))/;

/** Spaces (only: YAML's white space here, not JavaScript's) off both ends. */
function trimSpaces(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 0x20) a++;
  while (b > a && s.charCodeAt(b - 1) === 0x20) b--;
  return s.slice(a, b);
}

class FastParser {
  public readonly lines: string[];
  public i = 0;
  private readonly finalNewline: boolean;

  constructor(text: string) {
    // Tabs, carriage returns and other characters YAML or JavaScript see as white space where the other does not.
    if (/[\t\r\v\f\u0085\u2028\u2029\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\ufeff]/.test(text)) bail();
    this.finalNewline = text.endsWith('\n');
    this.lines = text.split('\n');
    if (this.lines.length > 0 && this.lines[this.lines.length - 1] === '') this.lines.pop();
  }

  public indent(i: number): number {
    const l = this.lines[i];
    let n = 0;
    while (n < l.length && l.charCodeAt(n) === 0x20) n++;
    return n;
  }

  /** Moves past blank lines and whole-line comments. */
  public skip() {
    while (this.i < this.lines.length) {
      const l = this.lines[this.i];
      const t = l.slice(this.indent(this.i));
      if (t === '' || t[0] === '#') this.i++;
      else return;
    }
  }

  /** A block node whose lines are indented by `n`. */
  public node(n: number): unknown {
    const t = this.lines[this.i].slice(n);
    return t === '-' || t.startsWith('- ') ? this.seq(n) : this.map(n);
  }

  private seq(n: number): unknown[] {
    const out: unknown[] = [];
    for (;;) {
      this.skip();
      if (this.i >= this.lines.length || this.indent(this.i) !== n) break;
      const t = this.lines[this.i].slice(n);
      if (t !== '-' && !t.startsWith('- ')) break;
      if (t === '-') {
        this.i++;
        out.push(this.nested(n, false));
        continue;
      }
      let c = n + 2;
      while (this.lines[this.i].charCodeAt(c) === 0x20) c++;
      const rest = this.lines[this.i].slice(c);
      if (rest === '' || rest[0] === '#') bail();
      if (rest === '-' || rest.startsWith('- ') || this.isMapEntry(rest)) {
        // A compact node: read the rest of the line as a line of its own, indented by c.
        this.lines[this.i] = ' '.repeat(c) + rest;
        out.push(this.node(c));
      } else {
        out.push(this.scalar(rest, n));
      }
    }
    return out;
  }

  private isMapEntry(t: string): boolean {
    if (t[0] === '"' || t[0] === "'") {
      const end = this.quotedEnd(t);
      return end > 0 && (t.slice(end).startsWith(': ') || t.slice(end) === ':');
    }
    const k = t.search(/:( |$)/);
    return k > 0;
  }

  private quotedEnd(t: string): number {
    const q = t[0];
    for (let j = 1; j < t.length; j++) {
      if (q === '"' && t[j] === '\\') { j++; continue; }
      if (t[j] === q) {
        if (q === "'" && t[j + 1] === "'") { j++; continue; }
        return j + 1;
      }
    }
    return -1;
  }

  private map(n: number): { [key: string]: unknown } {
    const out: { [key: string]: unknown } = {};
    for (;;) {
      this.skip();
      if (this.i >= this.lines.length) break;
      const ind = this.indent(this.i);
      if (ind < n) break;
      if (ind > n) bail();
      const t = this.lines[this.i].slice(n);
      if (t === '-' || t.startsWith('- ')) break;
      let key: string;
      let rest: string;
      if (t[0] === '"' || t[0] === "'") {
        const end = this.quotedEnd(t);
        if (end < 0) bail();
        key = this.quoted(t.slice(0, end));
        rest = t.slice(end);
      } else {
        const k = t.search(/:( |$)/);
        if (k <= 0) bail();
        const raw = t.slice(0, k);
        if (!FAST_KEY.test(raw)) bail();
        const v = resolvePlain(raw);
        if (v === null || (typeof v === 'number' && !Number.isFinite(v))) bail();
        key = String(v);
        rest = t.slice(k);
      }
      if (rest !== ':' && !rest.startsWith(': ')) bail();
      const value = trimSpaces(rest.slice(1));
      if (value === '' || value[0] === '#') {
        this.i++;
        set(out, key, this.nested(n, true));
      } else {
        set(out, key, this.scalar(value, n));
      }
    }
    return out;
  }

  /** The node under a key or dash with nothing after it on its line: more indented, or (under a key) a sequence at the same indentation. */
  private nested(n: number, sameIndentSeq: boolean): unknown {
    this.skip();
    if (this.i >= this.lines.length) return null;
    const ind = this.indent(this.i);
    if (ind > n) return this.node(ind);
    if (sameIndentSeq && ind === n) {
      const t = this.lines[this.i].slice(n);
      if (t === '-' || t.startsWith('- ')) return this.seq(n);
    }
    return null;
  }

  /** A scalar after `key: ` or `- ` on line `i`, whose node is at indentation `n`; moves past it. */
  private scalar(t: string, n: number): unknown {
    let value: unknown;
    if (t[0] === '"' || t[0] === "'") {
      const end = this.quotedEnd(t);
      if (end < 0) bail();
      const after = trimSpaces(t.slice(end));
      if (after !== '' && after[0] !== '#') bail();
      value = this.quoted(t.slice(0, end));
      this.i++;
    } else if (t[0] === '|') {
      return this.block(t, n);
    } else if (t === '{}' || t === '[]' || /^(\{\}|\[\]) +#/.test(t)) {
      value = t[0] === '{' ? {} : [];
      this.i++;
    } else {
      const hash = t.search(/ +#/);
      const plain = trimSpaces(hash >= 0 ? t.slice(0, hash) : t);
      if (!fastPlain(plain)) bail();
      value = resolvePlain(plain);
      if (typeof value === 'number' && !Number.isFinite(value)) bail();
      this.i++;
    }
    // A more indented line after a scalar would continue it (a multi-line scalar): not here.
    this.skip();
    if (this.i < this.lines.length && this.indent(this.i) > n) bail();
    return value;
  }

  private quoted(q: string): string {
    const body = q.slice(1, -1);
    if (q[0] === "'") return body.replace(/''/g, "'");
    // eslint-disable-next-line no-control-regex
    if (JSON_ESCAPES.test(body) || /[\u0000-\u001f]/.test(body)) bail();
    return JSON.parse(q) as string;
  }

  /** A literal block scalar (`|`, `|-`, `|+`) whose key or dash is at indentation `n`. */
  private block(header: string, n: number): string {
    if (header !== '|' && header !== '|-' && header !== '|+') bail();
    this.i++;
    const start = this.i;
    let indent = -1;
    let end = start;
    for (let j = start; j < this.lines.length; j++) {
      const l = this.lines[j];
      if (l === '') continue;
      if (/^ *$/.test(l)) bail();
      const ind = this.indent(j);
      if (indent < 0) {
        if (ind <= n || j !== start) bail(); // no content, or blank lines before it
        indent = ind;
      }
      if (ind < indent) break;
      end = j + 1;
    }
    if (indent < 0) bail();
    // Blank lines after the content belong to it only under |+; the next node starts after them.
    let next = end;
    while (next < this.lines.length && this.lines[next] === '') next++;
    if (next >= this.lines.length && !this.finalNewline) bail();
    const content = this.lines.slice(start, end).map((l) => l.slice(indent)).join('\n');
    this.i = next;
    if (this.i < this.lines.length && this.indent(this.i) > n) bail();
    if (header === '|-') return content;
    if (header === '|') return `${content}\n`;
    return `${content}\n${'\n'.repeat(next - end)}`;
  }
}
