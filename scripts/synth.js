#!/usr/bin/env node
/**
 * `npm run synth`: synthesizes the story for every backend into dist/<backend>/ without a full
 * `tsc` first. esbuild bundles apps/main.ts with lib/ (and imports/) in memory — transpile only,
 * node_modules stay external — and the bundle runs in this process. Type checking is not skipped
 * for good: `npm test` and `npm run build` run the full `tsc`. The bundle is kept in
 * .cache/synth-bundle.json and reused while none of its input files changed.
 *
 * Usage: node scripts/synth.js [outdir]   (default: dist/)
 */
const fs = require('fs');
const Module = require('module');
const path = require('path');

const root = path.join(__dirname, '..');
const entry = path.join(root, 'apps', 'main.ts');

const CACHE = path.join(root, '.cache', 'synth-bundle.json');

/** The bundle of a previous run, if none of its input files changed since (size and mtime). */
function cachedBundle() {
  try {
    const cache = JSON.parse(fs.readFileSync(CACHE, 'utf8'));
    for (const [file, stamp] of Object.entries(cache.inputs)) {
      const st = fs.statSync(path.join(root, file));
      if (`${st.size}:${st.mtimeMs}` !== stamp) return undefined;
    }
    return cache.code;
  } catch {
    return undefined;
  }
}

function bundle() {
  const result = require('esbuild').buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
    // Keep the emitted decorators and class fields as tsc would (tsconfig.json drives both).
    tsconfig: path.join(root, 'tsconfig.json'),
  });
  const code = result.outputFiles[0].text;
  try {
    const inputs = {};
    for (const file of [...Object.keys(result.metafile.inputs), 'tsconfig.json']) {
      const st = fs.statSync(path.join(root, file));
      inputs[file] = `${st.size}:${st.mtimeMs}`;
    }
    fs.mkdirSync(path.dirname(CACHE), { recursive: true });
    fs.writeFileSync(CACHE, JSON.stringify({ inputs, code }));
  } catch {
    // A read-only checkout still synthesizes, just without the cache.
  }
  return code;
}

function load() {
  const code = cachedBundle() ?? bundle();
  // Run as if it were apps/main.js, so __dirname and node_modules resolution are those of apps/.
  const filename = path.join(root, 'apps', 'main.bundle.js');
  const m = new Module(filename, module);
  m.filename = filename;
  m.paths = Module._nodeModulePaths(path.dirname(filename));
  m._compile(code, filename);
  return m.exports;
}

const app = load();
const outRoot = path.resolve(process.argv[2] || path.join(root, 'dist'));
fs.mkdirSync(outRoot, { recursive: true });
for (const dir of app.synthStory(outRoot)) {
  console.log(`synthesized ${path.relative(process.cwd(), dir) || dir}`);
}
