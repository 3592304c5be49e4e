#!/usr/bin/env node
/**
 * `npm run synth`: synthesizes the story for every backend into dist/<backend>/ without a full
 * `tsc` first. esbuild bundles apps/main.ts with lib/, imports/ and the packages they use (cdk8s,
 * constructs, yaml) in memory — transpile only — and the bundle runs in this process. Type
 * checking is not skipped for good: `npm test` and `npm run build` run the full `tsc`.
 *
 * Two caches under .cache/ keep a rerun short: the bundle (reused while none of its input files
 * changed) and V8's compiled code for it (which V8 itself rejects if the bundle or V8 changed).
 *
 * Usage: node scripts/synth.js [outdir]   (default: dist/)
 */
const fs = require('fs');
const Module = require('module');
const path = require('path');
const vm = require('vm');

const root = path.join(__dirname, '..');
const entry = path.join(root, 'apps', 'main.ts');

const CACHE = path.join(root, '.cache', 'synth-bundle.json');
const CODE_CACHE = path.join(root, '.cache', 'synth-bundle.v8');

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
    write: false,
    metafile: true,
    logLevel: 'silent',
    // Keep the emitted decorators and class fields as tsc would (tsconfig.json drives both).
    tsconfig: path.join(root, 'tsconfig.json'),
    // Input paths in the cache are relative to the repository, wherever this runs from.
    absWorkingDir: root,
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

function readCodeCache() {
  try {
    return fs.readFileSync(CODE_CACHE);
  } catch {
    return undefined;
  }
}

/** Compiles and runs the bundle as if it were apps/main.js; returns its exports and its script. */
function load() {
  const code = cachedBundle() ?? bundle();
  const filename = path.join(root, 'apps', 'main.bundle.js');
  const cachedData = readCodeCache();
  const script = new vm.Script(Module.wrap(code), { filename, cachedData });
  const m = new Module(filename, module);
  m.filename = filename;
  m.paths = Module._nodeModulePaths(path.dirname(filename));
  const req = (id) => m.require(id);
  req.resolve = (id) => Module._resolveFilename(id, m);
  script.runInThisContext().call(m.exports, m.exports, req, m, filename, path.dirname(filename));
  return { exports: m.exports, script, fresh: cachedData === undefined || script.cachedDataRejected };
}

const { exports: app, script, fresh } = load();
const outRoot = path.resolve(process.argv[2] || path.join(root, 'dist'));
fs.mkdirSync(outRoot, { recursive: true });
for (const dir of app.synthStory(outRoot)) {
  console.log(`synthesized ${path.relative(process.cwd(), dir) || dir}`);
}
if (fresh) {
  // Taken after the run, so it holds the functions the synth compiled too.
  try {
    fs.writeFileSync(CODE_CACHE, script.createCachedData());
  } catch {
    // A read-only checkout just compiles every time.
  }
}
