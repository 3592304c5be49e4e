/**
 * lib/verify/yaml11.ts: plain scalars as go-yaml v2 resolves them, the fast block reader equal to
 * the full parser on every document it takes, and the documents no reader should take.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { DocumentError, fastBlockDocument, readDocuments, resolvePlain } from '../lib/verify/yaml11';

describe('plain scalars as kubectl (go-yaml v2) reads them', () => {
  test.each([
    ['010', 8], ['0o10', 8], ['0O10', 8], ['0x1F', 31], ['0b101', 5], ['-0b11', -3], ['08', 8], ['09.5', 9.5], ['1_000', 1000],
    ['+010', 8], ['-010', -8], ['1e3', 1000], ['.5', 0.5], ['0', 0], ['00', 0],
    ['yes', true], ['Yes', true], ['ON', true], ['y', true], ['n', false], ['Off', false], ['true', true], ['FALSE', false],
    ['~', null], ['null', null], ['Null', null], ['', null],
    ['1:20', '1:20'], ['2001-12-14', '2001-12-14'], ['0x', '0x'], ['1e400', '1e400'], ['nil', 'nil'], ['NO_PROXY', 'NO_PROXY'],
    ['-', '-'], ['.', '.'], ['0x1ffffffffffffffff', '0x1ffffffffffffffff'], ['tRuE', 'tRuE'],
  ] as Array<[string, unknown]>)('%s', (text, value) => {
    expect(resolvePlain(text)).toStrictEqual(value);
  });
});

// ------------------------------------------------------------ the fast reader is the full one, sooner

const key = fc.oneof(
  fc.constantFrom('apiVersion', 'kind', 'name', 'namespace', 'app.kubernetes.io/name', 'k8s:io.kubernetes.pod.namespace', 'port', '8080', 'yes', 'n', 'on', '010', 'x-y_z'),
  fc.stringMatching(/^[a-z][a-z0-9.-]{0,8}$/),
);
const scalar = fc.oneof(
  fc.constantFrom('010', '08', '0o10', '0x10', '1_000', 'yes', 'No', 'on', 'y', '~', 'null', '', ' ', '1:20', '2001-12-14', '-1', '+1', '.5', '1e3',
    'a: b', 'a #b', 'a#b', '#x', '- x', '-x', '? x', ':x', 'x:', '[a]', '{a}', '&a', '*a', '!x', '|', '>', "'q'", '"q"', 'a\nb', 'a\tb', 'tab\t',
    'trailing ', ' leading', 'GET /api/*', 'cidr:10.0.0.0/8', 'é', '\u2028', '\\', 'a\\"b', '<script>', '@x', '%x', '`x`', 'x,y', 'x]'),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -100000, max: 100000 }),
  fc.boolean(),
  fc.constant(null),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('map'), tie('list')),
  map: fc.dictionary(key, tie('node'), { maxKeys: 5 }),
  list: fc.array(tie('node'), { maxLength: 4 }),
})).node;

describe('the fast block reader', () => {
  test('reads every document it takes as the full parser does (documents printed the ways cdk8s and people print them)', () => {
    let taken = 0;
    let runs = 0;
    fc.assert(fc.property(fc.dictionary(key, value, { minKeys: 1, maxKeys: 6 }), fc.constantFrom(
      { version: '1.1' as const, lineWidth: 0 },
      { version: '1.1' as const, lineWidth: 0, indentSeq: false },
      { version: '1.1' as const, lineWidth: 0, indent: 4 },
      { version: '1.2' as const, lineWidth: 20 },
      { version: '1.1' as const, lineWidth: 0, defaultStringType: 'QUOTE_SINGLE' as const },
      { version: '1.1' as const, lineWidth: 0, collectionStyle: 'flow' as const },
    ), (doc, options) => {
      runs++;
      const text = stringify(doc, options);
      const fast = fastBlockDocument(text);
      let full: unknown;
      try {
        full = readDocuments(text, { fast: false })[0];
      } catch (e) {
        // The full parser refuses it (a null key, say): the fast reader must not take it either.
        expect(fast).toBeUndefined();
        return;
      }
      if (fast !== undefined) {
        taken++;
        expect(fast.value).toStrictEqual(full);
      }
    }), { numRuns: 1500, seed: 20251216 });
    // Most of what cdk8s-like printing produces goes the fast way.
    expect(taken / runs).toBeGreaterThan(0.3);
  });

  test('comments, sequences at their key\'s indentation, compact maps and literal blocks', () => {
    const text = [
      '# a comment',
      'apiVersion: v1 # trailing comment',
      'kind: Pod',
      'metadata:',
      '  name: p',
      '  labels: {}',
      'spec:',
      '  containers:',
      '  - name: c   # here too',
      '    ports:',
      '    -   containerPort: 010',
      '        protocol: TCP',
      '    -',
      '      containerPort: 0x50',
      '    args:',
      '    - - nested',
      '      - list',
      '    script: |',
      '      echo one',
      '',
      '      # not a comment',
      '    keep: |+',
      '      kept',
      '',
      '    strip: |-',
      '      stripped',
      '  empty:',
      '  quoted: "a\\"b\\u00e9"',
      "  single: 'it''s'",
      '',
    ].join('\n');
    const fast = fastBlockDocument(text);
    expect(fast).toBeDefined();
    expect(fast!.value).toStrictEqual(readDocuments(text, { fast: false })[0]);
    expect(fast!.value).toMatchObject({ spec: { containers: [{ ports: [{ containerPort: 8 }, { containerPort: 80 }], script: 'echo one\n\n# not a comment\n', keep: 'kept\n\n', strip: 'stripped' }], empty: null, quoted: 'a"bé', single: "it's" } });
  });

  test('every document of the committed dist/ goes the fast way, with the full parser\'s values', () => {
    const dist = path.join(__dirname, '..', 'dist');
    for (const backend of fs.readdirSync(dist)) {
      for (const f of fs.readdirSync(path.join(dist, backend)).filter((n) => n.endsWith('.yaml'))) {
        const text = fs.readFileSync(path.join(dist, backend, f), 'utf8');
        for (const chunk of text.split(/^---\n/m)) expect(fastBlockDocument(chunk)).toBeDefined();
        expect(readDocuments(text)).toStrictEqual(readDocuments(text, { fast: false }));
      }
    }
  });

  test.each([
    ['an anchor', 'a: &x 1\nb: *x\n'],
    ['a merge key', 'a: {x: 1}\nb:\n  <<: {y: 2}\n'],
    ['a tag', 'a: !!str 010\n'],
    ['a flow collection with content', 'a: [1, 2]\n'],
    ['a multi-line plain scalar', 'a: one\n  two\n'],
    ['a folded scalar', 'a: >\n  x\n'],
    ['a tab', 'a:\tb\n'],
    ['a null key', '~: x\n'],
    ['an escape JSON does not have', 'a: "\\x41"\n'],
  ])('leaves %s to the full parser', (_what, text) => {
    expect(fastBlockDocument(text)).toBeUndefined();
  });
});

describe('documents no reader takes', () => {
  const fails = (text: string, message: RegExp, options = {}) => {
    let error: unknown;
    try {
      readDocuments(text, options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DocumentError);
    expect((error as Error).message).toMatch(message);
    return error as DocumentError;
  };

  test('aliases that expand without end (a billion laughs) are refused at once', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    const started = Date.now();
    fails(`${levels.join('\n')}\n`, /aliases expand it beyond any real manifest/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('an alias inside the node it names is refused', () => {
    fails('a: &a [*a]\n', /alias \*a refers to a node that contains it|unknown alias|Alias/i);
  });

  test('a document past the full parser\'s limit that the fast reader does not take is refused, with the size', () => {
    fails(`a: [${Array(2000).fill('"xxxxxxxxxx"').join(', ')}]\n`, /MiB of YAML that is not plain block style/, { maxFullParseBytes: 1000 });
  });

  test('the line of an error is the line in the file, across documents', () => {
    const e = fails('a: 1\n---\nb: 2\nc: [\n', /malformed YAML/);
    expect(e.index).toBe(1);
    expect(e.line).toBeGreaterThanOrEqual(4);
  });

  test('a JSON stream with something else after an object is refused', () => {
    fails('{"a": 1}\n[1]\n', /expected a JSON object/);
  });
});
