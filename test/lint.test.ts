/** The project's lint (scripts/lint.js) finds what it is for, on a small project of its own. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from './support/stories';

const LINT = path.join(__dirname, '..', 'scripts', 'lint.js');

function lint(files: { [file: string]: string }): { status: number | null; out: string } {
  const dir = tempDir('lint');
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'commonjs', target: 'es2020' }, include: ['lib/**/*.ts', 'test/**/*.ts'] }));
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  const r = spawnSync(process.execPath, [LINT, dir], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('an export nothing imports and a long line are findings; the entry point, imports and long messages are not', () => {
  const r = lint({
    'lib/index.ts': "export { used } from './a';\n",
    'lib/a.ts': [
      'export function used(): number { return helper(); }',
      'export function helper(): number { return 1; }',
      'export function unused(): number { return 2; }',
      `export const long = [${Array.from({ length: 60 }, (_, i) => i).join(', ')}];`,
      `export const message = \`${'a message that reads best on one line '.repeat(6)}\`;`,
    ].join('\n'),
    'test/a.test.ts': "import { long, message } from '../lib/a';\nexport const x = [long, message];\n",
  });
  expect(r.status).toBe(1);
  expect(r.out).toContain('lib/a.ts:3: export unused is not imported anywhere');
  expect(r.out).toMatch(/lib\/a\.ts:4: line of \d+ characters \(at most 200\)/);
  expect(r.out).not.toContain('export used ');
  expect(r.out).not.toContain('lib/a.ts:5');
  expect(r.out).toContain('lint: 3 finding(s)');
});

test('a clean project passes', () => {
  const r = lint({ 'lib/index.ts': 'export const x = 1;\n' });
  expect(r.status).toBe(0);
  expect(r.out).toContain('files clean');
});
