/**
 * A copy of the package's sources in a temporary folder, for the tests that build the published
 * package: the jsii compiler writes lib/**\/*.js beside the sources, and `npm test`'s tsc writes
 * the same files, so building in the working tree would race the other tests (and leave jsii's
 * output where tsc's was). The copy holds the real package.json, tsconfig.jsii.json and scripts;
 * node_modules is a link to the working tree's.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const root = path.join(__dirname, '..', '..');

/** The top-level folder of each path pattern, e.g. `lib` of `lib/**\/*.js`. */
const topFolders = (patterns: string[]) => patterns.filter((p) => p.includes('/')).map((p) => p.split('/')[0]);

export function copyPackage(prefix: string): string {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const jsiiConfig = JSON.parse(fs.readFileSync(path.join(root, pkg.jsii.tsconfig), 'utf8'));
  // What the package is built from (jsii's sources, the build scripts) and what it ships.
  const folders = new Set(['scripts', ...topFolders(jsiiConfig.include), ...topFolders(pkg.files)]);
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const from = path.join(root, entry.name);
    if (entry.isFile() && !/\.(tgz|tsbuildinfo)$/.test(entry.name) && entry.name !== '.jsii') {
      fs.copyFileSync(from, path.join(work, entry.name));
    } else if (entry.isDirectory() && folders.has(entry.name)) {
      fs.cpSync(from, path.join(work, entry.name), {
        recursive: true,
        // Sources only: compiled files are what the build under test must write.
        filter: (src) => entry.name === 'scripts' || !/\.(js|d\.ts)$/.test(src) || fs.statSync(src).isDirectory(),
      });
    }
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'), 'dir');
  return work;
}

/** Runs a command and fails with its output, not just its exit code; returns its standard output. */
export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  return runWithLog(cmd, args, cwd, env).stdout;
}

/** Runs a command and fails with its output; returns its standard output and error. */
export function runWithLog(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}
