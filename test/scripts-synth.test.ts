/**
 * `npm run synth` runs scripts/synth.js, which transpiles apps/ and lib/ with esbuild instead of
 * a full tsc. Its output must be exactly the committed dist/ (which the story tests check
 * against the tsc-compiled app).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');

function files(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

test('scripts/synth.js writes exactly the committed dist/', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-synth-'));
  const log = execFileSync(process.execPath, [path.join(root, 'scripts', 'synth.js'), out], { cwd: root, encoding: 'utf8' });
  expect(log).toMatch(/synthesized .*networkpolicy/);
  const fresh = files(out);
  expect(fresh.length).toBeGreaterThan(0);
  expect(files(path.join(root, 'dist'))).toEqual(fresh);
  for (const f of fresh) {
    expect(fs.readFileSync(path.join(out, f), 'utf8')).toBe(fs.readFileSync(path.join(root, 'dist', f), 'utf8'));
  }
  fs.rmSync(out, { recursive: true, force: true });
});

test('package.json: synth needs no tsc, test still type-checks with tsc', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  expect(pkg.scripts.synth).toBe('node scripts/synth.js');
  expect(pkg.scripts.test).toMatch(/^tsc -p tsconfig\.json && /);
});
