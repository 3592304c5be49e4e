/**
 * Conformance of the loader (lib/verify/manifests.ts, yaml11.ts, shapes.ts) with `kubectl apply -f
 * DIR`: each case is a folder, written to a temporary directory, and its expected outcome, taken
 * from what kubectl v1.32 does with it (`kubectl annotate --local -f DIR x=y -o json` reads files
 * exactly as `apply` does, without a cluster). Either the objects kubectl would send, or a refusal
 * (a ManifestError naming the file and document), where kubectl refuses too or where it would read
 * something a reviewer would not expect.
 *
 * When kubectl is on the PATH, every case is also run through it, and its objects must equal the
 * loader's (its refusals, the loader's refusals, except the cases marked `stricter`).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ManifestError, loadManifests } from '../lib/verify';
import { tempDir } from './support/stories';

interface Case {
  readonly name: string;
  readonly files: { [file: string]: string };
  /** The objects read, in order, as `Kind ns/name`, or the refusal's message. */
  readonly expect: string[] | RegExp;
  /** Checks of the values read (object index -> expected subset of the object). */
  readonly values?: { [index: number]: unknown };
  /** The loader refuses what kubectl reads (it would read something a reviewer would not expect). */
  readonly stricter?: boolean;
}

const pod = (name: string, ns = 'ns') => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n`;
const podJson = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns' } });

const CASES: Case[] = [
  {
    name: 'JSON files: one object, a List, objects one after the other (a folder of JSON pods has pods)',
    files: {
      'a.json': podJson('single'),
      'b.json': JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [JSON.parse(podJson('in-list'))] }),
      'c.json': `${podJson('stream-1')}\n${podJson('stream-2')}\n`,
    },
    expect: ['Pod ns/single', 'Pod ns/in-list', 'Pod ns/stream-1', 'Pod ns/stream-2'],
  },
  {
    name: 'every list is expanded: List, PodList, NetworkPolicyList; the list\'s metadata does not reach its items',
    files: {
      'a.yaml': [
        'apiVersion: v1\nkind: PodList\nmetadata: {namespace: other}\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n',
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicyList\nitems:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: np, namespace: ns}\n  spec: {podSelector: {}}\n',
        'apiVersion: v1\nkind: List\nitems: []\n',
        'apiVersion: v1\nkind: List\nitems: null\n',
      ].join('---\n'),
    },
    expect: ['Pod a', 'NetworkPolicy ns/np'],
  },
  {
    name: 'an object with items is a list to kubectl, whatever its kind',
    files: { 'a.yaml': 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: inside, namespace: ns}\n' },
    expect: ['Pod ns/inside'],
  },
  {
    name: 'merge keys as go-yaml applies them: in order, a merge overwrites the keys before it; of a list of maps the first wins',
    files: {
      'a.yaml': [
        'apiVersion: networking.k8s.io/v1',
        'kind: NetworkPolicy',
        'metadata: {name: allow-all, namespace: ns}',
        'spec: { <<: {podSelector: {}, ingress: [{}]} }',
        '---',
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: {name: c, namespace: ns}',
        'base: &base {x: merged, w: merged}',
        'data2:',
        '  before:',
        '    x: explicit',
        '    <<: *base',
        '  after:',
        '    <<: *base',
        '    x: explicit',
        '  list:',
        '    <<: [{x: first, z: first}, {x: second, v: second}]',
        '  twice:',
        '    <<: {x: one}',
        '    <<: {x: two}',
        '',
      ].join('\n'),
    },
    expect: ['NetworkPolicy ns/allow-all', 'ConfigMap ns/c'],
    values: {
      0: { spec: { podSelector: {}, ingress: [{}] } },
      1: {
        data2: {
          before: { x: 'merged', w: 'merged' },
          after: { x: 'explicit', w: 'merged' },
          list: { x: 'first', z: 'first', v: 'second' },
          twice: { x: 'two' },
        },
      },
    },
  },
  {
    name: 'YAML 1.1 scalars: 010 is 8, 0o10 8, 0x10 16, 1_000 1000, 08 8; yes and on are true (in keys too); 1:20 and dates stay strings',
    files: {
      'a.yaml': [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata: {name: c, namespace: ns}',
        'data2:',
        '  oct: 010', '  oct8: 08', '  octo: 0o10', '  hex: 0x10', '  under: 1_000', '  neg: -010', '  bin: 0b101',
        '  float: 1e3', '  sexagesimal: 1:20', '  date: 2001-12-14', '  quoted: "010"', '  str: !!str 010',
        '  on: on', '  n: Off', '  tilde: ~', '  8080: port',
        '',
      ].join('\n'),
    },
    expect: ['ConfigMap ns/c'],
    values: {
      0: {
        data2: {
          oct: 8, oct8: 8, octo: 8, hex: 16, under: 1000, neg: -8, bin: 5, float: 1000, sexagesimal: '1:20', date: '2001-12-14',
          quoted: '010', str: '010', true: true, false: false, tilde: null, 8080: 'port',
        },
      },
    },
  },
  {
    name: 'a port written 010 is port 8, as the cluster reads it',
    files: { 'a.yaml': `${pod('p')}spec:\n  containers:\n  - name: c\n    image: x\n    ports:\n    - containerPort: 010\n` },
    expect: ['Pod ns/p'],
    values: { 0: { spec: { containers: [{ ports: [{ containerPort: 8 }] }] } } },
  },
  {
    name: 'a key given twice keeps its last value',
    files: { 'a.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\ndata:\n  k: first\n  k: last\n' },
    expect: ['ConfigMap ns/c'],
    values: { 0: { data: { k: 'last' } } },
  },
  {
    name: 'only *.yaml, *.yml and *.json, with exactly these endings; hidden files too; not the subfolders; in byte order',
    files: {
      'b.yml': pod('yml'), 'a.yaml': pod('yaml'), 'B.yaml': pod('upper-name'), '.hidden.yaml': pod('hidden'),
      'UP.YAML': pod('upper-ext'), 'notes.txt': pod('txt'), 'noext': pod('noext'), 'sub/x.yaml': pod('sub'),
    },
    expect: ['Pod ns/hidden', 'Pod ns/upper-name', 'Pod ns/yaml', 'Pod ns/yml'],
  },
  {
    name: 'a YAML file starting with { is read as JSON by kubectl: flow-style YAML there is refused',
    files: { 'a.yaml': '{apiVersion: v1, kind: Pod, metadata: {name: flow}}\n' },
    expect: /a\.yaml document #0: malformed JSON/,
  },
  {
    name: 'a top-level JSON array is refused',
    files: { 'a.json': `[${podJson('x')}]` },
    expect: /a\.json document #0: expected a mapping \(a Kubernetes object\), got a sequence/,
  },
  {
    name: 'list items need apiVersion and kind',
    files: { 'a.yaml': 'apiVersion: v1\nkind: PodList\nitems:\n- kind: Pod\n  metadata: {name: x}\n' },
    expect: /a\.yaml document #0 item 0: Pod object has no apiVersion/,
  },
  {
    name: 'a list inside a list is refused',
    files: { 'a.yaml': 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: PodList\n  items: []\n' },
    expect: /a\.yaml document #0 item 0: a list inside a list/,
  },
  {
    name: 'items that are not a list are refused',
    files: { 'a.yaml': 'apiVersion: v1\nkind: PodList\nitems: {a: 1}\n' },
    expect: /a\.yaml document #0: PodList items must be a list, not a map/,
  },
  {
    name: '.inf cannot be JSON: refused',
    files: { 'a.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: .inf}\n' },
    expect: /a\.yaml document #0: \.inf is not a number JSON can hold/,
  },
  {
    name: 'a null key is refused',
    files: { 'a.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {~: d}\n' },
    expect: /a\.yaml document #0: the key "~" reads as null/,
  },
  {
    name: 'a label written yes is a boolean to kubectl, which refuses it: refused with the field named',
    files: { 'a.yaml': 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {enabled: yes}\n' },
    expect: /a\.yaml document #0: Pod p: metadata\.labels\.enabled must be a string, not true \(a boolean\) \(quote it: "true"\)/,
  },
  {
    name: 'two YAML documents without a --- line (after a ... line): kubectl reads only the first; refused',
    files: { 'a.yaml': `${pod('first')}...\n${pod('second')}` },
    expect: /a\.yaml document #0: holds several YAML documents with no `---` line between them/,
    stricter: true,
  },
  {
    name: 'one object defined twice (same kind, namespace and name) in two files: kubectl keeps the last applied; refused naming both',
    files: { 'a.yaml': pod('twin'), 'b.yaml': `${pod('other')}---\n${pod('twin')}` },
    expect: /b\.yaml document #1: Pod ns\/twin is also defined by .*a\.yaml document #0; kubectl apply would keep the one it applies last/,
    stricter: true,
  },
  {
    name: 'the same name in two namespaces, or of two kinds, is two objects',
    files: { 'a.yaml': `${pod('twin')}---\n${pod('twin', 'other')}---\napiVersion: v1\nkind: Service\nmetadata: {name: twin, namespace: ns}\n` },
    expect: ['Pod ns/twin', 'Pod other/twin', 'Service ns/twin'],
  },
];

const temps: string[] = [];
afterAll(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function folder(files: { [file: string]: string }): string {
  const dir = tempDir('kubectl');
  temps.push(dir);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

function named(m: { kind: string; metadata: { name: string; namespace?: string } }): string {
  return `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;
}

const KUBECTL = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf-8' }).status === 0;

/** What kubectl reads from a folder: its objects, or undefined when it refuses the folder. */
function kubectlObjects(dir: string): any[] | undefined {
  const r = spawnSync('kubectl', ['annotate', '--local', '-f', dir, 'zt-conformance=1', '-o', 'json'], { encoding: 'utf-8' });
  if (r.status !== 0) return undefined;
  const out: any[] = [];
  const text = r.stdout.trim();
  let depth = 0; let start = 0; let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) { if (c === '\\') i++; else if (c === '"') inString = false; continue; }
    if (c === '"') inString = true;
    else if (c === '{') { if (depth++ === 0) start = i; } else if (c === '}' && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
  }
  const flat = out.flatMap((o) => (Array.isArray(o.items) && o.kind === 'List' && o.metadata?.resourceVersion === '' ? o.items : [o]));
  for (const o of flat) {
    delete o.metadata.annotations['zt-conformance'];
    if (Object.keys(o.metadata.annotations).length === 0) delete o.metadata.annotations;
  }
  return flat;
}

describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  test('the loader reads it as expected', () => {
    const dir = folder(c.files);
    if (c.expect instanceof RegExp) {
      expect(() => loadManifests(dir)).toThrow(ManifestError);
      expect(() => loadManifests(dir)).toThrow(c.expect);
      return;
    }
    const manifests = loadManifests(dir);
    expect(manifests.map((m) => named(m.manifest))).toEqual(c.expect);
    for (const [i, subset] of Object.entries(c.values ?? {})) expect(manifests[Number(i)].manifest).toMatchObject(subset as object);
  });

  (KUBECTL ? test : test.skip)('kubectl reads it the same (or refuses it too)', () => {
    const dir = folder(c.files);
    const theirs = kubectlObjects(dir);
    if (c.expect instanceof RegExp) {
      if (c.stricter) expect(theirs).toBeDefined();
      else expect(theirs).toBeUndefined();
      return;
    }
    expect(theirs).toEqual(loadManifests(dir).map((m) => m.manifest));
  });
});
