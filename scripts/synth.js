#!/usr/bin/env node
/**
 * `npm run synth`: synthesizes the story for every backend into dist/<backend>/ without a full
 * `tsc` first. esbuild bundles apps/main.ts with lib/ (and imports/) in memory — transpile only,
 * node_modules stay external — and the bundle runs in this process. Type checking is not skipped
 * for good: `npm test` and `npm run build` run the full `tsc`.
 *
 * Usage: node scripts/synth.js [outdir]   (default: dist/)
 */
const fs = require('fs');
const Module = require('module');
const path = require('path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const entry = path.join(root, 'apps', 'main.ts');

function load() {
  const result = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    write: false,
    logLevel: 'silent',
    // Keep the emitted decorators and class fields as tsc would (tsconfig.json drives both).
    tsconfig: path.join(root, 'tsconfig.json'),
  });
  // Run as if it were apps/main.js, so __dirname and node_modules resolution are those of apps/.
  const filename = path.join(root, 'apps', 'main.bundle.js');
  const m = new Module(filename, module);
  m.filename = filename;
  m.paths = Module._nodeModulePaths(path.dirname(filename));
  m._compile(result.outputFiles[0].text, filename);
  return m.exports;
}

const app = load();
const outRoot = path.resolve(process.argv[2] || path.join(root, 'dist'));
fs.mkdirSync(outRoot, { recursive: true });
for (const dir of app.synthStory(outRoot)) {
  console.log(`synthesized ${path.relative(process.cwd(), dir) || dir}`);
}
