/**
 * A fast YAML writer that produces exactly the bytes cdk8s writes.
 *
 * cdk8s serializes every document with `YAML.stringify(doc, { keepUndefined: true, lineWidth: 0,
 * version: '1.1' })` from the `yaml` package and joins documents with `---\n` (see
 * `cdk8s/lib/yaml.js`). That general-purpose stringifier builds a node tree for every value and
 * is most of the cost of a large synth. The shapes Kubernetes manifests have are few: block maps
 * with string keys, block sequences, strings, integers, booleans. This module emits those shapes
 * directly, following the `yaml` package's rules for them (plain scalars unless the string needs
 * quotes or would read back as another YAML 1.1 type, JSON-style double quotes otherwise, `|-`
 * literal blocks for multi-line strings, `{}`/`[]` for empty collections, sequences indented under
 * their key). Any document containing something it has not been proven to handle (nulls,
 * non-ASCII or control characters, a sequence directly inside a sequence, shared object
 * references, floats, strings that would be single-quoted, ...) is handed to the `yaml` package
 * as a whole, so the output is always identical; only the speed differs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Yaml } from 'cdk8s';
import * as YAML from 'yaml';
import { WrittenManifests } from './written';

/** The options cdk8s passes to `YAML.stringify` (cdk8s/lib/yaml.js). */
const CDK8S_YAML_OPTIONS = { keepUndefined: true, lineWidth: 0, version: '1.1' } as const;

/** Thrown inside the emitter when a document leaves the proven subset; never escapes this module. */
class Unsupported {}
const UNSUPPORTED = new Unsupported();

const enum Style { PLAIN, DOUBLE, BLOCK, UNSUPPORTED }

/**
 * A plain scalar may not start with an indicator, contain `: ` or ` #`, or end with a space or
 * colon. Same test as the `yaml` package's plainString().
 */
const PLAIN_REJECT = /^[\n\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]$/;
/** Printable ASCII only; anything else (control characters, tabs, non-ASCII) goes to the fallback. */
const PRINTABLE = /^[\x20-\x7e]*$/;
const PRINTABLE_MULTILINE = /^[\x20-\x7e\n]*$/;
/** A line starting with a document marker changes how the yaml package indents and quotes. */
const DOCUMENT_MARKER = /^(%|---|\.\.\.)/m;

const SCHEMA_TAGS: any[] = (() => {
  const doc = new YAML.Document(null, { version: '1.1' });
  return [...(doc.schema.tags as any[]), ...((doc.schema as any).compat ?? [])]
    .filter((t) => t.default && t.tag !== 'tag:yaml.org,2002:str' && t.test instanceof RegExp);
})();
/** The YAML 1.1 tags a plain string could be read back as (bool, null, int, float, timestamp). */
const TYPE_TESTS: RegExp[] = SCHEMA_TAGS.filter((t) => t.default === true).map((t) => t.test);
/** Tags whose use depends on context (the `<<` merge key): strings they match go to the fallback. */
const CONTEXT_TESTS: RegExp[] = SCHEMA_TAGS.filter((t) => t.default !== true).map((t) => t.test);

function resolvesToOtherType(s: string): boolean {
  for (const re of TYPE_TESTS) if (re.test(s)) return true;
  return false;
}

const styleCache = new Map<string, Style>();
const MAX_CACHE = 100_000;

/** How the yaml package writes a single-line string value or key (keys: PLAIN or UNSUPPORTED only). */
function styleOf(s: string): Style {
  let st = styleCache.get(s);
  if (st !== undefined) return st;
  st = computeStyle(s);
  if (styleCache.size >= MAX_CACHE) styleCache.clear();
  styleCache.set(s, st);
  return st;
}

function computeStyle(s: string): Style {
  if (s.indexOf('\n') !== -1) {
    // Multi-line: a `|-` literal block, provided no line needs an indentation indicator, the value
    // has no leading/trailing whitespace to chomp and no line looks like a document marker.
    if (!PRINTABLE_MULTILINE.test(s)) return Style.UNSUPPORTED;
    const first = s[0];
    const last = s[s.length - 1];
    if (first === ' ' || first === '\n' || last === ' ' || last === '\n') return Style.UNSUPPORTED;
    if (DOCUMENT_MARKER.test(s)) return Style.UNSUPPORTED;
    return Style.BLOCK;
  }
  if (!PRINTABLE.test(s)) return Style.UNSUPPORTED;
  if (s.startsWith('---') || s.startsWith('...') || s.length > 1000) return Style.UNSUPPORTED;
  for (const re of CONTEXT_TESTS) if (re.test(s)) return Style.UNSUPPORTED;
  if (PLAIN_REJECT.test(s) || resolvesToOtherType(s)) {
    // The yaml package prefers double quotes; a string with `"` but no `'` gets single quotes.
    return s.indexOf('"') !== -1 ? Style.UNSUPPORTED : Style.DOUBLE;
  }
  return Style.PLAIN;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Emits scalars and collections into one string buffer; `seen` catches shared references (yaml would write anchors). */
class Emitter {
  public out = '';
  private readonly seen = new Set<object>();

  /** A scalar after `key: ` or `- `; `indent` is the indentation of a block scalar's lines. */
  public scalar(v: unknown, indent: string): string {
    switch (typeof v) {
      case 'string': {
        const st = styleOf(v);
        if (st === Style.PLAIN) return v;
        if (st === Style.DOUBLE) return JSON.stringify(v);
        if (st === Style.BLOCK) return `|-\n${indent}${v.replace(/\n+/g, `$&${indent}`)}`;
        throw UNSUPPORTED;
      }
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) return String(v);
        throw UNSUPPORTED;
      case 'boolean':
        return v ? 'true' : 'false';
      default:
        throw UNSUPPORTED;
    }
  }

  public key(k: string): string {
    if (k.length === 0 || styleOf(k) !== Style.PLAIN) throw UNSUPPORTED;
    return k;
  }

  private enter(v: object): void {
    if (this.seen.has(v)) throw UNSUPPORTED;
    this.seen.add(v);
  }

  /** A non-empty block map whose first pair continues the current line (after `- `) or starts at `indent`. */
  public map(obj: { [k: string]: unknown }, keys: string[], indent: string, firstInline: boolean): void {
    this.enter(obj);
    const childIndent = indent + '  ';
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = obj[k];
      this.out += (i === 0 && firstInline ? '' : indent) + this.key(k) + ':';
      this.value(v, indent, childIndent);
    }
  }

  /** The value of a pair whose key sits at `indent`; nested lines go at `childIndent`. */
  private value(v: unknown, _indent: string, childIndent: string): void {
    if (v !== null && typeof v === 'object') {
      if (Array.isArray(v)) {
        if (v.length === 0) { this.enter(v); this.out += ' []\n'; return; }
        this.out += '\n';
        this.seq(v, childIndent);
        return;
      }
      if (!isPlainObject(v)) throw UNSUPPORTED;
      const keys = Object.keys(v);
      if (keys.length === 0) { this.enter(v); this.out += ' {}\n'; return; }
      this.out += '\n';
      this.map(v as any, keys, childIndent, false);
      return;
    }
    this.out += ' ' + this.scalar(v, childIndent) + '\n';
  }

  /** A non-empty block sequence with its `- ` at `indent`. */
  private seq(arr: unknown[], indent: string): void {
    this.enter(arr);
    const itemIndent = indent + '  ';
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      this.out += indent + '-';
      if (v !== null && typeof v === 'object') {
        if (Array.isArray(v)) {
          if (v.length === 0) { this.enter(v); this.out += ' []\n'; continue; }
          throw UNSUPPORTED; // `- - x` compact nesting: left to the yaml package
        }
        if (!isPlainObject(v)) throw UNSUPPORTED;
        const keys = Object.keys(v);
        if (keys.length === 0) { this.enter(v); this.out += ' {}\n'; continue; }
        this.out += ' ';
        this.map(v as any, keys, itemIndent, true);
        continue;
      }
      this.out += ' ' + this.scalar(v, itemIndent) + '\n';
    }
  }
}

/** One document as `YAML.stringify(doc, cdk8s options)` writes it, or undefined if outside the proven subset. */
function fastDocument(doc: unknown): string | undefined {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || !isPlainObject(doc)) return undefined;
  const keys = Object.keys(doc);
  if (keys.length === 0) return '{}\n';
  const e = new Emitter();
  try {
    e.map(doc as any, keys, '', false);
  } catch (err) {
    if (err === UNSUPPORTED) return undefined;
    throw err;
  }
  return e.out;
}

/** Statistics of the fast writer since the process started (how many documents fell back). */
export interface FastYamlStats {
  /** Documents written by the fast emitter. */
  readonly fast: number;
  /** Documents handed to the `yaml` package. */
  readonly fallback: number;
}

let fastCount = 0;
let fallbackCount = 0;

/**
 * An opt-in fast replacement for cdk8s's YAML output, byte-identical to it. Use
 * `FastYaml.synth(app)` instead of `app.synth()` in large apps.
 */
export class FastYaml {
  /**
   * Serializes documents exactly as `Yaml.stringify(...docs)` from cdk8s does.
   * @param docs the documents (plain JSON objects such as `chart.toJson()` returns)
   */
  public static stringify(...docs: any[]): string {
    let out = '';
    for (let i = 0; i < docs.length; i++) {
      if (i > 0) out += '---\n';
      const doc = docs[i];
      if (doc === undefined) { out += '\n'; continue; }
      const fast = fastDocument(doc);
      if (fast !== undefined) {
        fastCount++;
        out += fast;
      } else {
        fallbackCount++;
        out += YAML.stringify(doc, CDK8S_YAML_OPTIONS);
      }
    }
    return out;
  }

  /**
   * Writes documents to a file exactly as cdk8s's `Yaml.save(filePath, docs)` does.
   * @param filePath output file
   * @param docs the documents
   * @returns the text written
   */
  public static save(filePath: string, docs: any[]): string {
    const text = FastYaml.stringify(...docs);
    fs.writeFileSync(filePath, text, { encoding: 'utf8' });
    return text;
  }

  /**
   * Synthesizes the app exactly as `app.synth()` does (same files, same bytes, every
   * `YamlOutputType`), with the fast writer in place of the `yaml` package. The documents
   * written stay known to this process until `ZeroTrustReview.write(app)` takes them (to read
   * unchanged files back without parsing them) or `app` is collected.
   * @param app the cdk8s app
   */
  public static synth(app: App): void {
    // App.synth() looks `Yaml.save` up at call time; swap it for the duration of this synth so
    // every other step (validation, chart order, file naming) stays cdk8s's own.
    const original = Yaml.save;
    const written = WrittenManifests.begin(app);
    (Yaml as any).save = (filePath: string, docs: any[]) => written.record(filePath, FastYaml.save(filePath, docs), docs);
    try {
      fs.mkdirSync(path.resolve(app.outdir), { recursive: true });
      app.synth();
    } finally {
      (Yaml as any).save = original;
    }
  }

  /** How many documents the fast emitter wrote and how many fell back to the `yaml` package. */
  public static stats(): FastYamlStats {
    return { fast: fastCount, fallback: fallbackCount };
  }

  private constructor() {}
}
