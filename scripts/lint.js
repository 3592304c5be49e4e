#!/usr/bin/env node
/**
 * The project's lint: lines no longer than MAX_LINE in lib/, bench/, apps/, bin/ and test/ (long
 * message or pattern literals aside), and no
 * export of lib/ that nothing imports (an export is used when another file imports it, re-exports
 * it, or the package's entry point lib/index.ts exposes it; types are exempt, as other exports'
 * declarations may need them). Uses the TypeScript compiler the
 * project already has; exits 1 with one line per finding.
 */
const path = require('path');
const ts = require('typescript');

const ROOT = process.argv[2] ? path.resolve(process.argv[2]) : path.join(__dirname, '..');
const MAX_LINE = 200;
/** Tests hold fixtures (manifests, expected rows) whose lines read best whole. */
const MAX_TEST_LINE = 280;
const configFile = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
const config = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
const program = ts.createProgram(config.fileNames, { ...config.options, noEmit: true });
const checker = program.getTypeChecker();
const ours = program.getSourceFiles().filter((f) => !f.isDeclarationFile && !f.fileName.includes('node_modules') && !f.fileName.includes('/imports/'));
const rel = (f) => path.relative(ROOT, f);
const findings = [];

/** Lines whose length comes from a message or pattern (as ESLint's max-len ignoreStrings/ignoreTemplateLiterals): prose is not wrapped. */
const LONG_LITERAL = /(`[^`]{60,}`?|'[^']{60,}'|"[^"]{60,}"|\/[^/\n]{60,}\/)/;
for (const f of ours) {
  const max = rel(f.fileName).startsWith('test/') ? MAX_TEST_LINE : MAX_LINE;
  f.text.split('\n').forEach((line, i) => {
    if (line.length > max && !LONG_LITERAL.test(line)) findings.push(`${rel(f.fileName)}:${i + 1}: line of ${line.length} characters (at most ${max})`);
  });
}

/** The declaration a symbol finally stands for, through imports and re-exports. */
const original = (sym) => (sym && sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym);
const used = new Set();
const markModuleExports = (moduleSymbol) => {
  for (const e of checker.getExportsOfModule(moduleSymbol)) used.add(original(e));
};

for (const f of ours) {
  const visit = (node) => {
    if (ts.isImportSpecifier(node) || ts.isExportSpecifier(node) || ts.isImportClause(node) || ts.isNamespaceImport(node)) {
      const sym = node.name ? checker.getSymbolAtLocation(node.name) : undefined;
      if (sym) used.add(original(sym));
      if (ts.isNamespaceImport(node)) {
        const decl = node.parent.parent;
        const mod = checker.getSymbolAtLocation(decl.moduleSpecifier);
        if (mod) markModuleExports(mod);
      }
    }
    if (ts.isExportDeclaration(node) && !node.exportClause && node.moduleSpecifier) {
      // export * from './x': the names flow on; the entry point decides whether they are public.
      const mod = checker.getSymbolAtLocation(node.moduleSpecifier);
      if (mod && rel(f.fileName) === 'lib/index.ts') markModuleExports(mod);
    }
    // `const { a } = require('./x') as typeof import('./x')` (lazy loading in the CLI).
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      const parent = node.parent;
      if (ts.isTypeQueryNode(parent) || node.isTypeOf) {
        const mod = checker.getSymbolAtLocation(node);
        const resolved = mod ? original(mod) : undefined;
        if (resolved) markModuleExports(resolved);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(f);
}
const entry = program.getSourceFile(path.join(ROOT, 'lib', 'index.ts'));
markModuleExports(checker.getSymbolAtLocation(entry));

for (const f of ours.filter((x) => rel(x.fileName).startsWith('lib/'))) {
  const mod = checker.getSymbolAtLocation(f);
  if (!mod) continue;
  for (const e of checker.getExportsOfModule(mod)) {
    const target = original(e);
    const declaredHere = (target.declarations ?? []).some((d) => d.getSourceFile() === f);
    // Types may be exported for the declarations of other exports; only values are checked.
    const isValue = (target.flags & ts.SymbolFlags.Value) !== 0;
    if (!declaredHere || !isValue || used.has(target)) continue;
    const d = target.declarations[0];
    const line = f.getLineAndCharacterOfPosition(d.getStart()).line + 1;
    findings.push(`${rel(f.fileName)}:${line}: export ${e.name} is not imported anywhere; drop the export or the code`);
  }
}

for (const line of findings.sort()) console.log(line);
if (findings.length > 0) {
  console.log(`lint: ${findings.length} finding(s)`);
  process.exit(1);
}
console.log(`lint: ${ours.length} files clean`);
