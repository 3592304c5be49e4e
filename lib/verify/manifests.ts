/**
 * Reading synthesized manifests back: multi-document YAML files into `SourcedManifest`s, with
 * errors that name the file and the document.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';
import { Manifest, SourcedManifest } from './types';
import { compareText } from '../intent/collation';

/** A manifest that cannot be read; the message starts with `<file> document #<index>:`. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Either a bare manifest or one with its origin; every reader in `lib/verify` accepts both. */
export type AnyManifest = Manifest | SourcedManifest;

/** The manifest itself, whether or not it carries its origin. */
export function manifestOf(m: AnyManifest): Manifest {
  return isSourced(m) ? m.manifest : m;
}

/** `dist/x.yaml#2` for a sourced manifest, `Kind ns/name` otherwise. */
export function originOf(m: AnyManifest): string {
  if (isSourced(m)) return `${m.file}#${m.index}`;
  return `${m.kind} ${m.metadata?.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata?.name}`;
}

function isSourced(m: AnyManifest): m is SourcedManifest {
  return (m as SourcedManifest).manifest !== undefined && typeof (m as SourcedManifest).file === 'string';
}

/**
 * Parses a multi-document YAML text. Empty documents are skipped; `index` is the 0-based
 * position of the document in the file (empty ones included), and error messages use it:
 * `dist/x.yaml document #2: ...`. A `kind: List` document is expanded into its items
 * (which share the document's index).
 */
export function parseManifests(text: string, file: string): SourcedManifest[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return []; // an empty stream
  const values = docs.map((doc, index) => {
    const where = `${file} document #${index}`;
    if (doc.errors.length > 0) {
      throw new ManifestError(`${where}: malformed YAML: ${doc.errors[0].message.split('\n')[0]}`);
    }
    try {
      return doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      throw new ManifestError(`${where}: ${(e as Error).message}`);
    }
  });
  return manifestsOfDocuments(values, file);
}

/**
 * The manifests of a file's documents, already read (as `parseManifests` reads them, with the
 * same checks and the same `index`es).
 */
export function manifestsOfDocuments(values: readonly unknown[], file: string): SourcedManifest[] {
  const out: SourcedManifest[] = [];
  values.forEach((value, index) => {
    const where = `${file} document #${index}`;
    if (value === null || value === undefined) return;
    if (isObject(value) && value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item: unknown, i: number) => out.push({ manifest: checkManifest(item, `${where} item ${i}`), file, index }));
    } else {
      out.push({ manifest: checkManifest(value, where), file, index });
    }
  });
  return out;
}

function checkManifest(value: unknown, where: string): Manifest {
  if (!isObject(value)) {
    throw new ManifestError(`${where}: expected a mapping (a Kubernetes object), got ${Array.isArray(value) ? 'a sequence' : typeof value}`);
  }
  const missing: string[] = [];
  if (typeof value.apiVersion !== 'string' || value.apiVersion.length === 0) missing.push('apiVersion');
  if (typeof value.kind !== 'string' || value.kind.length === 0) missing.push('kind');
  if (!isObject(value.metadata) || typeof value.metadata.name !== 'string' || value.metadata.name.length === 0) missing.push('metadata.name');
  if (missing.length > 0) {
    const what = typeof value.kind === 'string' ? `${value.kind} ` : '';
    throw new ManifestError(`${where}: ${what}object has no ${missing.join(', ')}`);
  }
  return value as unknown as Manifest;
}

function isObject(v: unknown): v is { [key: string]: any } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads one YAML file, or every `*.yaml` / `*.yml` file under a directory (recursively, in
 * sorted path order).
 */
export function loadManifests(pathOrDir: string, options: LoadManifestsOptions = {}): SourcedManifest[] {
  const stat = fs.statSync(pathOrDir);
  const files = stat.isDirectory() ? yamlFiles(pathOrDir) : [pathOrDir];
  return files.flatMap((f) => {
    const text = fs.readFileSync(f, 'utf-8');
    const known = options.documentsOf?.(f, text);
    return known ? manifestsOfDocuments(known, f) : parseManifests(text, f);
  });
}

/** Options of `loadManifests`. */
export interface LoadManifestsOptions {
  /**
   * The documents of a file whose text this process produced from them, so it need not be
   * parsed (see `WrittenManifests`); `undefined` parses the file.
   * @default - every file is parsed
   */
  readonly documentsOf?: (file: string, text: string) => readonly unknown[] | undefined;
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && /\.ya?ml$/i.test(entry.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort(compareText);
}
