/**
 * Reading manifests back as `kubectl apply -f` reads them: `*.yaml`, `*.yml` and `*.json` files
 * of a folder (not its subfolders unless `recursive`, as `kubectl apply -R`), JSON streams, YAML
 * 1.1 with merge keys and octals (`yaml11.ts`), every list (`kind: List`, `PodList`, ...)
 * expanded; each object checked for the shape of the fields the readers use (`shapes.ts`).
 * Errors name the file and the document. What kubectl would read differently, or what could not be
 * read safely (a FIFO, a device, a symbolic link out of the folder, a file past the size limit),
 * is refused with a `ManifestError`, never skipped in silence.
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkShape, ShapeError } from './shapes';
import { Manifest, SourcedManifest } from './types';
import { DocumentError, readDocuments } from './yaml11';
import { INTENT_FILE_NAME } from '../intent/document';

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

/** Options of the parsing functions. */
export interface ParseManifestsOptions {
  /**
   * SCTP ports, which the flow report does not model: `refuse` them (a ManifestError naming the
   * file, document and field), or `ignore` them (each reported through `onSctp`).
   * @default 'refuse'
   */
  readonly sctp?: 'refuse' | 'ignore';
  /** Called for each SCTP port ignored, with `<file> document #<i>: <Kind> <ns/name> <path>`. */
  readonly onSctp?: (where: string) => void;
  /**
   * Characters of one YAML document that is not in plain block style the full YAML parser may be
   * given (see `ReadDocumentsOptions`). `loadManifests` sets it to a quarter of `maxFileBytes`
   * (at least 1 MiB, or the whole file when smaller).
   * @default 16 MiB
   */
  readonly maxFullParseBytes?: number;
}

/**
 * Parses the text of one manifest file as kubectl does (see `yaml11.ts`): a JSON stream when it
 * starts with `{`, else YAML 1.1 documents separated by `---` lines. Empty documents are skipped;
 * `index` is the 0-based position of the document in the file (empty ones included), and error
 * messages use it: `dist/x.yaml document #2: ...`. A list (any object with `items`, such as
 * `kind: List` or `PodList`) is expanded into its items, which share the document's index.
 */
export function parseManifests(text: string, file: string, options: ParseManifestsOptions = {}): SourcedManifest[] {
  let values: unknown[];
  try {
    values = readDocuments(text, { maxFullParseBytes: options.maxFullParseBytes });
  } catch (e) {
    if (e instanceof DocumentError) {
      throw new ManifestError(`${file} document #${e.index}: ${e.message}${e.line !== undefined ? ` (line ${e.line})` : ''}`);
    }
    if (e instanceof RangeError) throw new ManifestError(`${file}: nested too deeply to read`);
    throw e;
  }
  return manifestsOfDocuments(values, file, options);
}

/**
 * The manifests of a file's documents, already read (as `parseManifests` reads them, with the
 * same checks and the same `index`es).
 */
export function manifestsOfDocuments(values: readonly unknown[], file: string, options: ParseManifestsOptions = {}): SourcedManifest[] {
  const out: SourcedManifest[] = [];
  values.forEach((value, index) => {
    const where = `${file} document #${index}`;
    if (value === null || value === undefined) return;
    if (isObject(value) && Object.prototype.hasOwnProperty.call(value, 'items') && value.items !== undefined) {
      // kubectl reads any object with `items` as a list (List, PodList, NetworkPolicyList, ...).
      const items = value.items;
      if (items !== null && !Array.isArray(items)) {
        throw new ManifestError(`${where}: ${typeof value.kind === 'string' ? `${value.kind} ` : ''}items must be a list, not ${Array.isArray(items) ? 'a list' : typeof items === 'object' ? 'a map' : typeof items}`);
      }
      (items ?? []).forEach((item: unknown, i: number) => {
        const at = `${where} item ${i}`;
        if (isObject(item) && Object.prototype.hasOwnProperty.call(item, 'items')) {
          throw new ManifestError(`${at}: a list inside a list, which kubectl refuses`);
        }
        out.push({ manifest: checkManifest(item, at, options), file, index });
      });
    } else {
      out.push({ manifest: checkManifest(value, where, options), file, index });
    }
  });
  return out;
}

function checkManifest(value: unknown, where: string, options: ParseManifestsOptions): Manifest {
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
  const subject = () => `${value.kind} ${typeof value.metadata.namespace === 'string' ? `${value.metadata.namespace}/` : ''}${value.metadata.name}`;
  try {
    checkShape(value, { sctp: options.sctp, onSctp: (p) => options.onSctp?.(`${where}: ${subject()} ${p}`) });
  } catch (e) {
    if (e instanceof ShapeError) throw new ManifestError(`${where}: ${subject()}: ${e.message}`);
    throw e;
  }
  return value as unknown as Manifest;
}

function isObject(v: unknown): v is { [key: string]: any } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Bytes of one file read at most, unless told otherwise. */
export const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Bytes of all files read at most, unless told otherwise. */
export const DEFAULT_MAX_TOTAL_BYTES = 128 * 1024 * 1024;
/** The file names kubectl reads in a folder (exactly these endings, case included). */
export const MANIFEST_EXTENSIONS: readonly string[] = ['.json', '.yaml', '.yml'];

/** Options of `loadManifests`. */
export interface LoadManifestsOptions extends ParseManifestsOptions {
  /**
   * The documents of a file whose text this process produced from them, so it need not be
   * parsed (see `WrittenManifests`); `undefined` parses the file.
   * @default - every file is parsed
   */
  readonly documentsOf?: (file: string, text: string) => readonly unknown[] | undefined;
  /**
   * Whether to read the subfolders too, as `kubectl apply -R -f <dir>` does; `kubectl apply -f
   * <dir>` reads only the folder itself.
   * @default false
   */
  readonly recursive?: boolean;
  /** Bytes one file may hold. @default DEFAULT_MAX_FILE_BYTES (64 MiB) */
  readonly maxFileBytes?: number;
  /** Bytes all files together may hold. @default DEFAULT_MAX_TOTAL_BYTES (128 MiB) */
  readonly maxTotalBytes?: number;
}

/**
 * Reads one manifest file (whatever its name), or the `*.yaml`, `*.yml` and `*.json` files of a
 * folder in kubectl's order (names compared byte for byte): the files `kubectl apply -f` reads (`-R` with `recursive`), but
 * for the intent file (`zero-trust.intent.json`) that synth writes beside the manifests.
 * Symbolic links to files inside the folder are followed; one that leads out of the folder, to a
 * folder, or nowhere is refused, and so is anything that is not a regular file (a FIFO, a socket, a
 * device such as /dev/zero) and any file past the size limits.
 */
export function loadManifests(pathOrDir: string, options: LoadManifestsOptions = {}): SourcedManifest[] {
  const maxFile = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const maxTotal = options.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
  let total = 0;
  const out: SourcedManifest[] = [];
  for (const f of manifestFiles(pathOrDir, options)) {
    const text = readManifestFile(f, maxFile, maxTotal - total);
    total += Buffer.byteLength(text, 'utf8');
    const known = options.documentsOf?.(f, text);
    const maxFullParseBytes = options.maxFullParseBytes ?? Math.max(Math.floor(maxFile / 4), Math.min(maxFile, 1024 * 1024));
    const manifests = known ? manifestsOfDocuments(known, f, options) : parseManifests(text, f, { ...options, maxFullParseBytes });
    for (const m of manifests) out.push(m);
  }
  refuseDuplicates(out);
  return out;
}

/**
 * Two objects of one kind, namespace and name: `kubectl apply` would keep whichever it applied
 * last, kustomize and GitOps tools refuse them, and which one a review should read depends on the
 * order someone applies the files in. Refused with both origins, never read twice or one dropped.
 * An object without `metadata.namespace` counts as in the namespace kubectl would put it (the
 * same for every such object).
 */
function refuseDuplicates(manifests: readonly SourcedManifest[]): void {
  const seen = new Map<string, SourcedManifest>();
  for (const s of manifests) {
    const m = s.manifest;
    const group = m.apiVersion.includes('/') ? m.apiVersion.split('/')[0] : '';
    const key = `${group}\0${m.kind}\0${m.metadata.namespace ?? ''}\0${m.metadata.name}`;
    const first = seen.get(key);
    if (first) {
      const what = `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;
      throw new ManifestError(`${s.file} document #${s.index}: ${what} is also defined by ${first.file} document #${first.index}; kubectl apply would keep the one it applies last, `
        + 'so the folder does not say which is meant: remove one of them');
    }
    seen.set(key, s);
  }
}

/** The files `loadManifests` reads, in order; refuses what it would refuse to read. */
export function manifestFiles(pathOrDir: string, options: Pick<LoadManifestsOptions, 'recursive'> = {}): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(pathOrDir);
  } catch (e) {
    throw new ManifestError(`${pathOrDir}: ${describeErrno(e)}`);
  }
  if (stat.isFile()) return [pathOrDir];
  if (!stat.isDirectory()) throw new ManifestError(`${pathOrDir}: ${notRegular(stat)}; only regular files and folders are read`);
  const root = fs.realpathSync(pathOrDir);
  const out: string[] = [];
  // kubectl's order (Go's filepath.Walk): each folder's entries by name, byte for byte, a
  // subfolder's files where its name falls. It decides which of two same-named objects is last.
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => compareBytes(a.name, b.name))) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (options.recursive) walk(p);
        continue;
      }
      if (!MANIFEST_EXTENSIONS.includes(path.extname(entry.name))) continue; // kubectl skips other names
      if (entry.name === INTENT_FILE_NAME) continue; // the intent synth writes beside the manifests: not a Kubernetes object
      if (entry.isFile()) {
        out.push(p);
      } else if (entry.isSymbolicLink()) {
        out.push(followLink(p, root));
      } else {
        throw new ManifestError(`${p}: ${notRegular(fs.lstatSync(p))}; only regular files are read (kubectl would block on a FIFO or read a device without end)`);
      }
    }
  };
  walk(pathOrDir);
  return out;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A symbolic link to a regular file inside the folder, as its own path; anything else is refused. */
function followLink(link: string, root: string): string {
  let target: string;
  try {
    target = fs.realpathSync(link);
  } catch (e) {
    throw new ManifestError(`${link}: a symbolic link to ${safeReadlink(link)}, which ${describeErrno(e)}`);
  }
  const rel = path.relative(root, target);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new ManifestError(`${link}: a symbolic link out of the folder (to ${target}); only links to files inside the folder are followed`);
  }
  const stat = fs.statSync(target);
  if (stat.isDirectory()) throw new ManifestError(`${link}: a symbolic link to a folder named like a manifest file; kubectl refuses it too`);
  if (!stat.isFile()) throw new ManifestError(`${link}: a symbolic link to ${notRegular(stat)}; only regular files are read`);
  return link;
}

function safeReadlink(link: string): string {
  try {
    return fs.readlinkSync(link);
  } catch {
    return 'an unreadable target';
  }
}

function describeErrno(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'does not exist (no such file or directory)';
  if (code === 'EACCES' || code === 'EPERM') return 'cannot be read (permission denied)';
  if (code === 'ELOOP') return 'is a loop of symbolic links';
  return `cannot be read (${(e as Error)?.message ?? String(e)})`;
}

function notRegular(stat: fs.Stats): string {
  if (stat.isFIFO()) return 'a FIFO (named pipe), not a regular file';
  if (stat.isSocket()) return 'a socket, not a regular file';
  if (stat.isCharacterDevice()) return 'a character device, not a regular file';
  if (stat.isBlockDevice()) return 'a block device, not a regular file';
  if (stat.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The text of a regular file of at most `maxFile` bytes (and `budget` bytes left of the total),
 * opened without blocking, so a FIFO swapped in after the check cannot hang the read.
 */
function readManifestFile(file: string, maxFile: number, budget: number): string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new ManifestError(`${file}: ${describeErrno(e)}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new ManifestError(`${file}: ${notRegular(stat)}; only regular files are read`);
    const limit = Math.min(maxFile, budget);
    if (stat.size > limit) throw new ManifestError(sizeMessage(file, stat.size, maxFile, budget));
    const buffer = Buffer.alloc(Math.min(stat.size, limit) + 1);
    let length = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > limit) throw new ManifestError(sizeMessage(file, length, maxFile, budget));
      if (length === buffer.length) break;
    }
    try {
      return UTF8.decode(buffer.subarray(0, length));
    } catch {
      throw new ManifestError(`${file}: not UTF-8 text; kubectl reads manifests as UTF-8`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function sizeMessage(file: string, size: number, maxFile: number, budget: number): string {
  if (size > maxFile) {
    return `${file}: ${mib(size)} is more than one manifest file may hold here (${mib(maxFile)}); refusing to read it (raise the limit with --max-bytes <size>, or maxFileBytes)`;
  }
  return `${file}: reading it would take the files read past ${mib(budget)} left of the total limit; refusing to read more (raise it with --max-total-bytes <size>, or maxTotalBytes)`;
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${bytes} bytes`;
}
