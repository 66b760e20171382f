import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/**
 * The modules a file loads when it is loaded: static `import` and `export ... from`, without type-only
 * ones (erased by tsx) and without `import()` (loaded only when that code runs). Relative specifiers come
 * back resolved to a repository path, bare ones as written.
 */
function eagerImports(file: string, text = readFileSync(file, 'utf8')): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const found: string[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      const typeOnly =
        clause?.isTypeOnly ||
        (clause && !clause.name && clause.namedBindings && ts.isNamedImports(clause.namedBindings)
          ? clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((element) => element.isTypeOnly)
          : false);
      if (!typeOnly) specifier = statement.moduleSpecifier;
    } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) {
      specifier = statement.moduleSpecifier;
    }
    if (specifier && ts.isStringLiteral(specifier)) found.push(specifier.text);
  }
  return found;
}

/** A relative specifier as the file tsx would load (`./x.js` is `./x.ts` on disk). */
function resolveRelative(from: string, specifier: string): string {
  const target = resolve(dirname(from), specifier);
  for (const candidate of [
    target,
    target.replace(/\.js$/, '.ts'),
    `${target}.ts`,
    join(target, 'index.ts'),
  ]) {
    if (existsSync(candidate) && !candidate.endsWith(sep)) return candidate;
  }
  throw new Error(`${relative(root, from)} imports ${specifier}, which does not exist`);
}

const packageName = (specifier: string) =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? '');
const isBuiltin = (specifier: string) =>
  specifier.startsWith('node:') || builtinModules.includes(packageName(specifier));

/** Every repository file and every package loaded eagerly from the given entry points. */
function eagerGraph(entries: string[]) {
  const files = new Map<string, string>();
  const packages = new Map<string, string>();
  const queue = entries.map((entry) => ({ file: entry, via: 'entry point' }));
  while (queue.length > 0) {
    const { file, via } = queue.shift() as { file: string; via: string };
    if (files.has(file)) continue;
    files.set(file, via);
    for (const specifier of eagerImports(file)) {
      if (specifier.startsWith('.')) {
        queue.push({ file: resolveRelative(file, specifier), via: relative(root, file) });
      } else if (!isBuiltin(specifier)) {
        packages.set(packageName(specifier), relative(root, file));
      }
    }
  }
  return { files, packages };
}

const tsFilesIn = (folder: string) =>
  readdirSync(join(root, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));

// bin/consent-hub.js is the one executable; it loads cli/main.ts, which holds every command (worker,
// serve, erase, ...). workers/ and api/ are listed too, for anyone who starts them from their own code.
const productionEntries = [
  join(root, 'bin', 'consent-hub.js'),
  join(root, 'cli', 'main.ts'),
  ...tsFilesIn('workers'),
  ...tsFilesIn('api'),
];

describe('a production install (npm ci --omit=dev) runs every production entry point', () => {
  it('finds static imports, skips type-only and dynamic ones, so the checks below can fail', () => {
    const probe = join(root, 'cli', 'probe.ts');
    const imports = eagerImports(
      probe,
      [
        "import forge from 'node-forge';",
        "import type { X } from '../sandboxes/framework/local-ca.js';",
        "import { type Y } from '../dev/dev-json.js';",
        "export { z } from '../dev/run-dev.js';",
        "const later = await import('../dev/run-dev.js');",
      ].join('\n'),
    );
    expect(imports).toEqual(['node-forge', '../dev/run-dev.js']);
    expect(packageName('@temporalio/worker/lib/x.js')).toBe('@temporalio/worker');
  });

  const graph = eagerGraph(productionEntries);

  it('reaches the CLI commands through bin/consent-hub.js', () => {
    const reached = [...graph.files.keys()].map((file) => relative(root, file));
    expect(reached).toContain(join('cli', 'commands', 'worker-command.ts'));
    expect(reached).toContain(join('workers', 'run-worker.ts'));
    expect(reached).toContain(join('api', 'run-api-server.ts'));
  });

  it('loads nothing of sandboxes/ or dev/ until the dev command runs', () => {
    const offenders = [...graph.files]
      .map(([file, via]) => [relative(root, file), via] as const)
      .filter(([file]) => ['sandboxes', 'dev'].includes(file.split(sep)[0] ?? ''))
      .map(([file, via]) => `${via} -> ${file}`);
    expect(offenders).toEqual([]);
  });

  it('loads only packages listed in dependencies (devDependencies are absent in production)', () => {
    const missing = [...graph.packages]
      .filter(([name]) => !(name in manifest.dependencies))
      .map(
        ([name, via]) => `${via} -> ${name}${name in manifest.devDependencies ? ' (a devDependency)' : ''}`,
      );
    expect(missing).toEqual([]);
    expect(graph.packages.size).toBeGreaterThan(5);
  });

  it('keeps node-forge, which only the sandboxes’ local CA uses, out of the production dependencies', () => {
    expect(manifest.dependencies['node-forge']).toBeUndefined();
    expect(manifest.devDependencies['node-forge']).toBeDefined();
  });
});
