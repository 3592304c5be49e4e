#!/usr/bin/env node
/**
 * Locates the upstream CRD / JSON-schema files used by the schema tests and by `npm run import`.
 *
 * The files are never committed to this repository. Resolution order:
 *   1. env `CRD_DIR` (must exist, otherwise an error);
 *   2. `../shared/crds` relative to the repository root, if it exists;
 *   3. the cache `.cache/crds` in the repository root, if it holds every file of crd-sources.json
 *      (`npm run crds` fills it by downloading the files listed in scripts/crd-sources.json).
 *
 * CLI: `node scripts/crds.js` prints the resolved directory, downloading into the cache when needed.
 */
'use strict';

const fs = require('fs');
const path = require('path');

const SOURCES_FILE = path.join(__dirname, 'crd-sources.json');
const DEFAULT_REPO_ROOT = path.resolve(__dirname, '..');

function loadSources() {
  return JSON.parse(fs.readFileSync(SOURCES_FILE, 'utf8'));
}

function isDir(p) {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** True when `dir` holds every file listed in crd-sources.json. */
function isComplete(dir) {
  if (!isDir(dir)) return false;
  return loadSources().files.every((f) => fs.existsSync(path.join(dir, f.path)));
}

function helpMessage(detail) {
  return [
    `Cannot find the upstream CRD schema files${detail ? ` (${detail})` : ''}.`,
    'Provide them in one of three ways:',
    '  1. set CRD_DIR to a directory laid out like scripts/crd-sources.json (e.g. CRD_DIR=/path/to/crds);',
    '  2. place them in ../shared/crds next to the repository root;',
    '  3. with network access, run `npm run crds` to download them (pinned by tag/commit) into .cache/crds.',
  ].join('\n');
}

/**
 * Returns the absolute path of the directory holding the CRD files, or throws with a message
 * explaining how to provide them.
 * @param {{ env?: Record<string, string | undefined>, repoRoot?: string }} [opts]
 * @returns {string}
 */
function resolveCrdDir(opts = {}) {
  const env = opts.env || process.env;
  const repoRoot = path.resolve(opts.repoRoot || DEFAULT_REPO_ROOT);
  if (env.CRD_DIR) {
    const dir = path.resolve(repoRoot, env.CRD_DIR);
    if (!isDir(dir)) throw new Error(helpMessage(`CRD_DIR=${env.CRD_DIR} is not a directory`));
    return dir;
  }
  const shared = path.resolve(repoRoot, '..', 'shared', 'crds');
  if (isDir(shared)) return shared;
  const cache = cacheDir(repoRoot);
  if (isComplete(cache)) return cache;
  throw new Error(helpMessage(`no CRD_DIR, no ${shared}, no complete cache in ${cache}`));
}

function cacheDir(repoRoot = DEFAULT_REPO_ROOT) {
  return path.join(repoRoot, '.cache', 'crds');
}

/**
 * Linkerd CRDs upstream are Helm templates. Removes the template lines (`{{ ... }}`) from the
 * header before the top-level `spec:`, plus any `annotations:` / `labels:` key they leave empty,
 * so the YAML parses. Same change as documented in SOURCES.md.
 * @param {string} text
 * @returns {string}
 */
function cleanHelmTemplate(text) {
  const lines = text.split('\n');
  const out = [];
  let inHeader = true;
  for (const line of lines) {
    if (/^---\s*$/.test(line)) inHeader = true;
    else if (/^spec:/.test(line)) inHeader = false;
    if (/^\s*\{\{.*\}\}\s*$/.test(line)) continue; // pure template action anywhere
    if (inHeader && line.includes('{{')) continue;
    out.push(line);
  }
  const indent = (l) => l.match(/^ */)[0].length;
  const result = [];
  for (let i = 0; i < out.length; i++) {
    const m = /^(\s*)(annotations|labels):\s*$/.exec(out[i]);
    if (m) {
      const next = out.slice(i + 1).find((l) => l.trim() !== '');
      if (next === undefined || indent(next) <= m[1].length) continue; // key left empty
    }
    result.push(out[i]);
  }
  return result.join('\n');
}

/**
 * Returns the document of a multi-document YAML text whose `metadata.name` is `crdName`,
 * as the raw lines between its `---` separators (byte-for-byte, separators excluded).
 * @param {string} text
 * @param {string} crdName
 * @returns {string}
 */
function extractDocument(text, crdName) {
  const YAML = require('yaml');
  const docs = [];
  let cur = [];
  for (const line of text.split('\n')) {
    if (/^---\s*$/.test(line)) {
      docs.push(cur);
      cur = [];
    } else cur.push(line);
  }
  docs.push(cur);
  for (const d of docs) {
    const raw = d.join('\n');
    if (!raw.includes(crdName)) continue;
    const obj = YAML.parse(raw);
    if (obj && obj.metadata && obj.metadata.name === crdName) return raw.endsWith('\n') ? raw : raw + '\n';
  }
  throw new Error(`document ${crdName} not found`);
}

/** Applies the transform recorded in crd-sources.json to the downloaded upstream text. */
function applyTransform(entry, text) {
  const t = entry.transform && entry.transform.type;
  if (!t) return text;
  if (t === 'split-multidoc') return extractDocument(text, entry.transform.crdName);
  if (t === 'strip-helm-template') return cleanHelmTemplate(text);
  throw new Error(`unknown transform ${t} for ${entry.path}`);
}

/**
 * Downloads every file of crd-sources.json into `dest` (default: .cache/crds). Needs network.
 * @param {string} [dest]
 * @returns {Promise<string>} dest
 */
async function downloadCrds(dest = cacheDir()) {
  const YAML = require('yaml');
  const fetched = new Map();
  for (const entry of loadSources().files) {
    if (!fetched.has(entry.url)) {
      const res = await fetch(entry.url);
      if (!res.ok) throw new Error(`GET ${entry.url}: HTTP ${res.status}`);
      fetched.set(entry.url, await res.text());
    }
    const text = applyTransform(entry, fetched.get(entry.url));
    if (entry.path.endsWith('.json')) JSON.parse(text);
    else YAML.parseAllDocuments(text).forEach((d) => {
      if (d.errors.length) throw new Error(`${entry.path}: ${d.errors[0].message}`);
    });
    const file = path.join(dest, entry.path);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file + '.tmp', text);
    fs.renameSync(file + '.tmp', file);
    console.error(`fetched ${entry.path}`);
  }
  return dest;
}

module.exports = {
  resolveCrdDir,
  cacheDir,
  isComplete,
  cleanHelmTemplate,
  extractDocument,
  applyTransform,
  downloadCrds,
  loadSources,
  helpMessage,
};

if (require.main === module) {
  (async () => {
    let dir;
    try {
      dir = resolveCrdDir();
    } catch (e) {
      if (process.env.CRD_DIR) throw e;
      console.error('CRD files not found locally; downloading into .cache/crds ...');
      try {
        dir = await downloadCrds();
      } catch (err) {
        throw new Error(`${helpMessage(`download failed: ${err.message}`)}`);
      }
    }
    console.log(dir);
  })().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
