#!/usr/bin/env node
/**
 * Builds the published package: the jsii compiler, then jsii-pacmak for every language.
 *
 *   node scripts/package.js compile      jsii: lib/**\/*.js, lib/**\/*.d.ts, bin/*.js and the .jsii
 *                                        assembly (what `npm pack` ships; run by `prepack`)
 *   node scripts/package.js docgen       compile, then API.md with jsii-docgen
 *   node scripts/package.js [--code-only] [--outdir DIR]
 *                                        compile, then jsii-pacmak: the npm tarball and the
 *                                        Python, Java, .NET and Go packages in dist-jsii/
 *                                        (`npm run package`); --code-only writes their sources
 *                                        without building them (no PyPI, Maven, NuGet or Go
 *                                        proxy needed)
 *
 * The jsii compile is always a full one (tsconfig.jsii.json, no source maps): `npm run build` and
 * `npm test` compile the same sources with tsc into the same files, and jsii's incremental state
 * would not know, so an incremental jsii could ship tsc's output (without jsii's type
 * information, with inline source maps). jsii-pacmak runs `npm pack`, whose `prepack` would
 * compile a second time; ZT_JSII_COMPILED tells it this process just did.
 */
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

// jsii 5.9's tools print a banner on every run on Node 20 (the project's runtime) unless told.
const env = { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0] };

/** Warnings jsii need not print on every build; each is a known, accepted property of the API. */
const SILENCED = [
  // Names such as `namespace`, `from` and `except` are renamed by the generated bindings.
  'reserved-word',
  // Peer ranges (cdk8s ^2.70.0, constructs ^10.3.0) are wider than the exact devDependencies tested.
  'metadata/missing-dev-dependency',
];

function run(cmd, args, extraEnv = {}) {
  // Their output goes to stderr, so that `npm pack --json` (which runs prepack) prints only its JSON.
  execFileSync(cmd, args, { cwd: root, stdio: ['inherit', 2, 'inherit'], env: { ...env, ...extraEnv } });
}

function compile() {
  fs.rmSync(path.join(root, '.cache', 'jsii.tsbuildinfo'), { force: true });
  run(bin('jsii'), ['--fail-on-warnings', ...SILENCED.map((w) => `--silence-warnings=${w}`)]);
}

function docgen() {
  run(bin('jsii-docgen'), ['--output', 'API.md']);
}

function pacmak(args) {
  const outdirAt = args.indexOf('--outdir');
  const outdir = outdirAt >= 0 ? args[outdirAt + 1] : undefined;
  run(bin('jsii-pacmak'), [
    '--targets', 'js', 'python', 'java', 'dotnet', 'go',
    ...(args.includes('--code-only') ? ['--code-only'] : []),
    ...(outdir ? ['--outdir', path.resolve(outdir)] : []),
    // pacmak would otherwise write an .npmignore; package.json "files" says what ships.
    '--no-npmignore',
    '--force',
  ], { ZT_JSII_COMPILED: '1' });
}

function main(argv) {
  const [command] = argv;
  if (command === 'compile') {
    if (process.env.ZT_JSII_COMPILED === '1') return; // prepack inside `npm run package`
    compile();
  } else if (command === 'docgen') {
    compile();
    docgen();
  } else if (command === undefined || command.startsWith('--')) {
    compile();
    pacmak(argv);
  } else {
    throw new Error(`unknown command ${command}; see the header of scripts/package.js`);
  }
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
