/**
 * Strict schema validation of synthesized manifests, in the spirit of `kubectl apply --validate=strict`.
 *
 * - Core kinds: Kubernetes v1.30.0 JSON-schema definitions (`kubernetes/v1.30.0/_definitions.json`),
 *   looked up by `x-kubernetes-group-version-kind`.
 * - CRDs: every CustomResourceDefinition YAML under the CRD dir, indexed by group/version/kind for all
 *   served versions, using `spec.versions[].schema.openAPIV3Schema`.
 * - Kuma `Mesh`: the CRD's `spec` is `x-kubernetes-preserve-unknown-fields`, so `spec` is also checked
 *   against Kuma's draft-04 `kuma/Mesh.json`.
 *
 * Unknown fields are rejected: `additionalProperties: false` is added to object schemas that declare
 * `properties` (and, for CRDs, to `type: object` schemas without properties, which the API server
 * prunes) unless they set `additionalProperties` or `x-kubernetes-preserve-unknown-fields: true`.
 * `x-kubernetes-validations` (CEL rules) are NOT evaluated. An unknown apiVersion/kind is an error.
 *
 * The CRD files are located through `resolveCrdDir()` of scripts/crds.js (CRD_DIR, ../shared/crds,
 * or .cache/crds filled by `npm run crds`).
 */
import * as fs from 'fs';
import * as path from 'path';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import * as YAML from 'yaml';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const crds = require('../../scripts/crds') as {
  resolveCrdDir(opts?: { env?: Record<string, string | undefined>; repoRoot?: string }): string;
};

const K8S_ID = 'https://schemas.local/kubernetes/_definitions.json';
const KUMA_MESH_ID = 'https://schemas.local/kuma/Mesh.json';
const OBJECT_META_REF = `${K8S_ID}#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta`;

type Schema = { [key: string]: any };

interface Candidate {
  /** file the schema comes from (relative to the CRD dir) */
  source: string;
  /** builds the (not yet compiled) schema */
  schema: () => Schema;
  /** extra checks of part of the object, e.g. Kuma Mesh spec */
  extra?: Array<{ pointer: string; schema: () => Schema }>;
}

// ---------------------------------------------------------------------------------------------
// schema transforms

interface StrictOptions {
  /** CRD (structural) schema: `type: object` without properties means "no fields" */
  crd?: boolean;
  /** Kuma protobuf JSON schema: `additionalProperties: true` next to `properties` becomes false */
  protobuf?: boolean;
}

const SUBSCHEMA_MAPS = ['properties', 'patternProperties', 'definitions', '$defs'];
const BRANCHES = ['anyOf', 'oneOf', 'allOf', 'not'];

/**
 * Returns a copy of `s` with Kubernetes OpenAPI extensions mapped to JSON Schema and unknown fields
 * rejected. `inBranch`: inside anyOf/oneOf/allOf/not, which in structural schemas only add value
 * validations, so no additionalProperties is added there.
 */
export function strictify(s: any, opts: StrictOptions = {}, inBranch = false): any {
  if (Array.isArray(s)) return s.map((x) => strictify(x, opts, inBranch));
  if (s === null || typeof s !== 'object') return s;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (SUBSCHEMA_MAPS.includes(k) && v && typeof v === 'object') {
      out[k] = Object.fromEntries(Object.entries(v).map(([pk, pv]) => [pk, strictify(pv, opts, inBranch)]));
    } else if (BRANCHES.includes(k)) {
      out[k] = strictify(v, opts, true);
    } else if ((k === 'items' || k === 'additionalProperties' || k === 'additionalItems') && typeof v === 'object') {
      out[k] = strictify(v, opts, inBranch);
    } else if (k === 'x-kubernetes-validations' || k === 'description' || k === '$schema') {
      // CEL rules are not evaluated; descriptions only bloat the compiled code; draft-04 $schema unknown to Ajv
    } else if (k === 'id' && typeof v === 'string' && opts.protobuf) {
      // draft-04 id
    } else {
      out[k] = v;
    }
  }
  // draft-04 boolean exclusiveMinimum/Maximum
  for (const [ex, lim] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof out[ex] === 'boolean') {
      if (out[ex] && typeof out[lim] === 'number') {
        out[ex] = out[lim];
        delete out[lim];
      } else delete out[ex];
    }
  }
  const preserve = out['x-kubernetes-preserve-unknown-fields'] === true;
  if (out['x-kubernetes-int-or-string'] === true && !out.anyOf && !out.oneOf) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (opts.protobuf && out.properties && out.additionalProperties === true) out.additionalProperties = false;
  if (!inBranch && !preserve && out.additionalProperties === undefined) {
    if (out.properties) out.additionalProperties = false;
    else if (opts.crd && out.type === 'object' && !out.patternProperties && out['x-kubernetes-embedded-resource'] !== true) {
      out.additionalProperties = false;
    }
  }
  if (out.nullable !== undefined) {
    const nullable = out.nullable === true;
    delete out.nullable;
    if (nullable) return { anyOf: [{ type: 'null' }, out] };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ajv setup

/** RE2 (Go) patterns -> JavaScript: `\PC` -> `\P{C}`; falls back to non-unicode mode when needed. */
const re2Compat = Object.assign(
  (pattern: string, flags: string): RegExp => {
    const src = pattern.replace(/(?<!\\)((?:\\\\)*)\\([pP])([A-Z])/g, '$1\\$2{$3}');
    try {
      return new RegExp(src, flags);
    } catch (e) {
      return new RegExp(src, flags.replace('u', ''));
    }
  },
  { code: 'new RegExp' },
);

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function isCidr(s: string): boolean {
  const m = /^(.+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const bits = Number(m[2]);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(m[1])) {
    return bits <= 32 && m[1].split('.').every((o) => Number(o) <= 255 && String(Number(o)) === o);
  }
  return m[1].includes(':') && bits <= 128 && /^[0-9a-fA-F:.]+$/.test(m[1]);
}

function newAjv(): Ajv {
  const ajv = new Ajv({
    strict: false,
    allErrors: true,
    allowUnionTypes: true,
    validateSchema: false,
    unicodeRegExp: true,
    code: { regExp: re2Compat as any },
    logger: { log: () => undefined, warn: () => undefined, error: (...a: unknown[]) => console.error(...a) },
  });
  addFormats(ajv, ['date-time', 'ipv4', 'ipv6']);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat('cidr', isCidr);
  // accepted without checks (Go-specific syntaxes or annotations only)
  for (const f of ['double', 'float', 'duration', 'idn-hostname', 'hostname', 'regex', 'int-or-string', 'uri', 'url', 'email', 'uuid', 'quantity']) {
    ajv.addFormat(f, true);
  }
  return ajv;
}

// ---------------------------------------------------------------------------------------------
// schema registry

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (/\.ya?ml$/.test(e.name)) out.push(p);
  }
  return out.sort();
}

export class SchemaValidator {
  public readonly crdDir: string;
  private readonly ajv: Ajv;
  private readonly index = new Map<string, Candidate[]>();
  private readonly compiled = new Map<Schema, ValidateFunction>();
  private readonly schemaCache = new Map<() => Schema, Schema>();

  constructor(crdDir: string = crds.resolveCrdDir()) {
    this.crdDir = crdDir;
    this.ajv = newAjv();
    this.loadKubernetes();
    this.loadCrds();
  }

  /** apiVersion/kind pairs with a schema */
  public knownKinds(): string[] {
    return [...this.index.keys()].sort();
  }

  private add(key: string, c: Candidate) {
    const list = this.index.get(key) ?? [];
    list.push(c);
    // prefer standard channels over experimental ones when a GVK is defined twice
    list.sort((a, b) => Number(a.source.includes('experimental')) - Number(b.source.includes('experimental')));
    this.index.set(key, list);
  }

  private loadKubernetes() {
    const file = path.join(this.crdDir, 'kubernetes', 'v1.30.0', '_definitions.json');
    const defs: Record<string, Schema> = JSON.parse(fs.readFileSync(file, 'utf8')).definitions;
    const strictDefs = Object.fromEntries(Object.entries(defs).map(([k, v]) => [k, strictify(v)]));
    this.ajv.addSchema({ $id: K8S_ID, definitions: strictDefs });
    for (const [name, def] of Object.entries(defs)) {
      for (const gvk of def['x-kubernetes-group-version-kind'] ?? []) {
        const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
        const schema = { $ref: `${K8S_ID}#/definitions/${name}`, required: ['apiVersion', 'kind'] };
        this.add(`${apiVersion}/${gvk.kind}`, { source: path.relative(this.crdDir, file), schema: () => schema });
      }
    }
  }

  private loadCrds() {
    const kumaMesh = path.join(this.crdDir, 'kuma', 'Mesh.json');
    for (const file of walk(this.crdDir)) {
      const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
      for (const doc of docs) {
        const crd = doc.toJS();
        if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
        const { group, names } = crd.spec;
        for (const v of crd.spec.versions ?? []) {
          if (v.served === false) continue;
          const raw = v.schema?.openAPIV3Schema ?? crd.spec.validation?.openAPIV3Schema;
          if (!raw) continue;
          const apiVersion = `${group}/${v.name}`;
          const candidate: Candidate = {
            source: path.relative(this.crdDir, file),
            schema: () => crdSchema(raw, apiVersion, names.kind),
          };
          if (group === 'kuma.io' && names.kind === 'Mesh' && raw.properties?.spec?.['x-kubernetes-preserve-unknown-fields'] && fs.existsSync(kumaMesh)) {
            candidate.extra = [{ pointer: '/spec', schema: () => this.kumaMeshSchema(kumaMesh) }];
          }
          this.add(`${apiVersion}/${names.kind}`, candidate);
        }
      }
    }
  }

  private kumaMeshSchema(file: string): Schema {
    if (!this.ajv.getSchema(KUMA_MESH_ID)) {
      const doc = strictify(JSON.parse(fs.readFileSync(file, 'utf8')), { protobuf: true });
      this.ajv.addSchema({ ...doc, $id: KUMA_MESH_ID });
    }
    return { $ref: `${KUMA_MESH_ID}#/definitions/Mesh` };
  }

  private fn(make: () => Schema): ValidateFunction {
    let schema = this.schemaCache.get(make);
    if (!schema) {
      schema = make();
      this.schemaCache.set(make, schema);
    }
    let f = this.compiled.get(schema);
    if (!f) {
      f = this.ajv.compile(schema);
      this.compiled.set(schema, f);
    }
    return f;
  }

  /** Validates one manifest; returns error messages (empty = valid). */
  public validate(obj: any): string[] {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return ['/: manifest must be an object'];
    const { apiVersion, kind } = obj;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['/: apiVersion and kind are required strings'];
    const candidates = this.index.get(`${apiVersion}/${kind}`);
    if (!candidates) return [`/: no schema for ${apiVersion} ${kind} (CRD dir ${this.crdDir})`];
    const results: string[][] = [];
    for (const c of candidates) {
      const errs: string[] = [];
      const f = this.fn(c.schema);
      if (!f(obj)) errs.push(...formatErrors(f.errors ?? []));
      for (const x of c.extra ?? []) {
        const part = pointerGet(obj, x.pointer);
        if (part === undefined) continue;
        const g = this.fn(x.schema);
        if (!g(part)) errs.push(...formatErrors(g.errors ?? [], x.pointer));
      }
      if (errs.length === 0) return [];
      results.push(candidates.length > 1 ? errs.map((e) => `${e} [schema ${c.source}]`) : errs);
    }
    return results.flat();
  }
}

/** CRD version schema -> strict JSON schema with pinned apiVersion/kind and ObjectMeta metadata. */
function crdSchema(raw: Schema, apiVersion: string, kind: string): Schema {
  const props = { ...(raw.properties ?? {}) };
  const meta = props.metadata;
  props.metadata = meta ? { allOf: [{ $ref: OBJECT_META_REF }, meta] } : { $ref: OBJECT_META_REF };
  props.apiVersion = { type: 'string', const: apiVersion };
  props.kind = { type: 'string', const: kind };
  const required = [...new Set([...(raw.required ?? []), 'apiVersion', 'kind'])];
  return strictify({ ...raw, type: 'object', properties: props, required }, { crd: true });
}

function pointerGet(obj: any, pointer: string): any {
  return pointer
    .split('/')
    .slice(1)
    .reduce((o, k) => (o == null ? undefined : o[k.replace(/~1/g, '/').replace(/~0/g, '~')]), obj);
}

function formatErrors(errors: ErrorObject[], prefix = ''): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of errors) {
    const at = `${prefix}${e.instancePath}` || '/';
    let msg: string;
    if (e.keyword === 'additionalProperties') {
      const field = (e.params as any).additionalProperty;
      msg = `${at === '/' ? '' : at}/${field}: unknown field "${field}"`;
    } else if (e.keyword === 'enum') {
      msg = `${at}: ${e.message}: ${JSON.stringify((e.params as any).allowedValues)}`;
    } else if (e.keyword === 'const') {
      msg = `${at}: must be ${JSON.stringify((e.params as any).allowedValue)}`;
    } else {
      msg = `${at}: ${e.message}`;
    }
    if (!seen.has(msg)) {
      seen.add(msg);
      out.push(msg);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// public helpers

let defaultValidator: SchemaValidator | undefined;

/** The shared validator, using the CRD dir from `resolveCrdDir()`. */
export function getValidator(): SchemaValidator {
  if (!defaultValidator) defaultValidator = new SchemaValidator();
  return defaultValidator;
}

/** Validates one manifest object against its schema; returns error messages, empty when valid. */
export function validateObject(obj: any): string[] {
  return getValidator().validate(obj);
}

function describe(obj: any): string {
  const md = obj?.metadata ?? {};
  const name = md.namespace ? `${md.namespace}/${md.name}` : md.name ?? '<no name>';
  return `${obj?.apiVersion ?? '?'} ${obj?.kind ?? '?'} ${name}`;
}

/** Validates every manifest and returns all errors as "apiVersion kind ns/name: /path: message". */
export function validateAll(objs: any[]): string[] {
  return objs.flatMap((o) => validateObject(o).map((e) => `${describe(o)}: ${e}`));
}

/** Jest helper: fails listing every error (kind, name, path) of every invalid manifest. */
export function expectValid(objs: any[]): void {
  const errors = validateAll(objs);
  if (errors.length > 0) {
    throw new Error(`${errors.length} schema error(s):\n  ${errors.join('\n  ')}`);
  }
}
