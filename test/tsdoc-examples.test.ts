/**
 * Every TSDoc `@example` in src/ is type-checked against the built package
 * (as a user would import it), so the documentation cannot drift from the
 * API. Examples are written to .tmp/tsdoc-examples/ inside the repository
 * (so `vmbus-kmcl` resolves to this package) and checked with the
 * TypeScript compiler API under the project's strict settings; then each
 * one is run, and must finish cleanly.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it } from 'node:test';
import ts from 'typescript';
import { repoRoot } from './shared-paths.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/** The ```ts blocks that follow an `@example` tag in doc comments. */
function examples(file: string): { line: number; code: string }[] {
  const text = readFileSync(file, 'utf8');
  const out: { line: number; code: string }[] = [];
  const re =
    /@example[^\n]*\n(?:\s*\*[^\n`]*\n)*?\s*\*\s*```(?:ts|typescript)\n((?:\s*\*.*\n)*?)\s*\*\s*```/g;
  for (const m of text.matchAll(re)) {
    const code = (m[1] ?? '')
      .split('\n')
      .map((l) => l.replace(/^\s*\* ?/, ''))
      .join('\n');
    out.push({ line: text.slice(0, m.index).split('\n').length, code });
  }
  return out;
}

/**
 * Writes every example of src/ into a fresh directory, one module each
 * (top-level await allowed), through `render` (the source as-is, or
 * transpiled), and says where each came from.
 */
function writeExamples(
  dir: string,
  ext: string,
  render: (code: string) => string,
): { name: string; where: string }[] {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const out: { name: string; where: string }[] = [];
  for (const file of sources(join(repoRoot, 'src'))) {
    for (const [i, ex] of examples(file).entries()) {
      const name = join(
        dir,
        `${relative(join(repoRoot, 'src'), file).replace(/[/.]/g, '_')}_${i}.${ext}`,
      );
      writeFileSync(name, render(`${ex.code}\nexport {};\n`));
      out.push({ name, where: `${relative(repoRoot, file)}:${ex.line}` });
    }
  }
  assert.ok(out.length >= 20, `only ${out.length} examples found`);
  return out;
}

/** The package's exports (root, `vmbus-kmcl/node` and `vmbus-kmcl/web`), aliases resolved, from the built .d.ts files. */
function packageExports(): {
  checker: ts.TypeChecker;
  exports: { name: string; target: ts.Symbol }[];
} {
  const entries = ['index', 'node/index', 'web/index'].map((e) =>
    join(repoRoot, 'dist', 'src', `${e}.d.ts`),
  );
  const program = ts.createProgram(entries, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const exports: { name: string; target: ts.Symbol }[] = [];
  for (const entry of entries) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!);
    assert.ok(module, entry);
    for (const symbol of checker.getExportsOfModule(module)) {
      const target =
        symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      exports.push({ name: symbol.name, target });
    }
  }
  return { checker, exports };
}

it('every @example in src/ type-checks against the package', () => {
  const jobs = writeExamples(join(repoRoot, '.tmp', 'tsdoc-examples'), 'ts', (code) => code);
  const files = jobs.map((j) => j.name);
  const origin = new Map(jobs.map((j) => [j.name, j.where]));
  console.log(`type-checking ${files.length} examples`);
  const program = ts.createProgram(files, {
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.es2024.sharedmemory.d.ts'],
    types: ['node'],
    noEmit: true,
    skipLibCheck: true,
  });
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file && files.includes(d.file.fileName))
    .map(
      (d) =>
        `${origin.get(d.file!.fileName)}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
  assert.deepEqual(problems, [], problems.join('\n'));
});

it('every exported symbol of the package has a TSDoc summary and an @example', () => {
  const { checker, exports } = packageExports();
  const missing: string[] = [];
  const withoutExample: string[] = [];
  for (const { name, target } of exports) {
    if (ts.displayPartsToString(target.getDocumentationComment(checker)).trim() === '')
      missing.push(name);
    if (!target.getJsDocTags(checker).some((t) => t.name === 'example')) withoutExample.push(name);
  }
  const total = exports.length;
  assert.ok(total > 250, `only ${total} exports`);
  assert.deepEqual(missing, [], `exports without a summary: ${missing.join(', ')}`);
  assert.deepEqual(withoutExample, [], `exports without an @example: ${withoutExample.join(', ')}`);
});

/** Runs one example module in a child process. */
function runExample(
  file: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { timeout: 20_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

it('every @example in src/ runs to completion without an error or a false check', async () => {
  // Examples print comparisons that are meant to be true (`console.log(x === y); // true`),
  // so a line "false" on stdout is a failed example; so is a non-zero exit,
  // anything on stderr, or not finishing within 20 s (an example must release
  // what it starts).
  const jobs = writeExamples(
    join(repoRoot, '.tmp', 'tsdoc-run'),
    'mjs',
    (code) =>
      ts.transpileModule(code, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText,
  );
  const problems: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let job = jobs[next++]; job; job = jobs[next++]) {
      const r = await runExample(job.name);
      if (r.code !== 0) problems.push(`${job.where}: exit ${r.code} ${r.stderr.split('\n')[0]}`);
      else if (r.stderr.trim() !== '') problems.push(`${job.where}: stderr ${r.stderr.trim()}`);
      else if (r.stdout.split('\n').some((l) => l.trim() === 'false'))
        problems.push(`${job.where}: printed false`);
    }
  };
  await Promise.all([worker(), worker()]);
  assert.deepEqual(problems, [], problems.join('\n'));
});

it('every exported function and public method documents each parameter and its result', () => {
  const { exports } = packageExports();
  const incomplete: string[] = [];
  let checked = 0;
  const check = (name: string, decl: ts.SignatureDeclaration) => {
    checked++;
    const tags = ts.getJSDocTags(decl);
    const documented = new Set(
      tags
        .filter((t) => t.tagName.text === 'param')
        .map((t) => (t as ts.JSDocParameterTag).name.getText()),
    );
    const missing = decl.parameters.map((p) => p.name.getText()).filter((p) => !documented.has(p));
    const returnsValue =
      decl.type !== undefined && !/^(void|Promise<void>)$/.test(decl.type.getText());
    const hasReturns = tags.some((t) => t.tagName.text === 'returns');
    if (missing.length > 0) incomplete.push(`${name}: @param ${missing.join(', ')}`);
    if (returnsValue && !hasReturns) incomplete.push(`${name}: @returns`);
  };
  for (const { name, target } of exports) {
    for (const decl of target.declarations ?? []) {
      if (ts.isFunctionDeclaration(decl)) check(name, decl);
      if (!ts.isClassDeclaration(decl)) continue;
      for (const member of decl.members) {
        if (!ts.isMethodDeclaration(member) && !ts.isConstructorDeclaration(member)) continue;
        if (ts.getCombinedModifierFlags(member) & ts.ModifierFlags.Private) continue;
        check(`${name}.${member.name?.getText() ?? 'constructor'}`, member);
      }
    }
  }
  assert.ok(checked > 250, `only ${checked} functions and methods`);
  assert.deepEqual(incomplete, [], incomplete.join('\n'));
});
