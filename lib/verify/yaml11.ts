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

/** The documents of a manifest file: `null` for an empty document, the value otherwise. */
export function readDocuments(text: string): unknown[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  return isJsonText(body) ? jsonDocuments(body) : yamlDocuments(body);
}

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
function yamlDocuments(text: string): unknown[] {
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
  return chunks.map((c, index) => yamlDocument(c.text, index, c.line));
}

const PARSE_OPTIONS = { schema: 'failsafe', version: '1.1', uniqueKeys: false, prettyErrors: false, keepSourceTokens: false } as const;

function yamlDocument(text: string, index: number, firstLine: number): unknown {
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
