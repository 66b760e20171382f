import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');

function sourceFiles(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, folder), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(ts|js|mjs)$/.test(entry.name)) found.push(join(entry.parentPath, entry.name));
  }
  return found;
}

/** Every relative import of a file (static, re-export, dynamic), resolved to a path under the repository. */
function relativeImports(file: string, text = readFileSync(file, 'utf8')): string[] {
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles
    .map((imported) => imported.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => relative(root, resolve(dirname(file), name)));
}

const topFolder = (path: string) => path.split(sep)[0];

/** The source file an import of `target` (written ESM style with a .js suffix) resolves to, if it exists. */
function sourceOf(target: string): string | undefined {
  return [target, target.replace(/\.js$/, '.ts'), `${target}.ts`, join(target, 'index.ts')].find(
    (candidate) => existsSync(join(root, candidate)),
  );
}

/**
 * The first chain of imports from `start` (a repository-relative path) that reaches sandboxes/, or
 * undefined. `importsOf` gives a file's relative imports as repository-relative paths; `resolve` maps one
 * to the file it loads (undefined: nothing to follow).
 */
function reachedSandbox(
  start: string,
  importsOf: (file: string) => string[] = (file) => relativeImports(join(root, file)),
  resolve: (target: string) => string | undefined = sourceOf,
): string[] | undefined {
  const seen = new Set<string>([start]);
  const queue: string[][] = [[start]];
  for (let chain = queue.shift(); chain; chain = queue.shift()) {
    for (const target of importsOf(chain.at(-1) as string)) {
      if (topFolder(target) === 'sandboxes') return [...chain, target];
      const file = resolve(target);
      if (!file || seen.has(file)) continue;
      seen.add(file);
      queue.push([...chain, file]);
    }
  }
  return undefined;
}
const production = ['connectors', 'activities', 'workflows', 'workers', 'api', 'ledger'];

describe('import boundaries around the sandboxes', () => {
  it('finds relative imports of every form, so the checks below can fail', () => {
    const probe = join(root, 'connectors', 'probe.ts');
    const imports = relativeImports(
      probe,
      [
        "import { a } from '../sandboxes/mailchimp/sandbox.js';",
        "export { b } from '../domain/email.js';",
        "const c = await import('../sandboxes/google/kit.js');",
      ].join('\n'),
    );
    expect(imports.map(topFolder)).toEqual(['sandboxes', 'domain', 'sandboxes']);
  });

  it.each(production)('%s/ never imports sandboxes/', (folder) => {
    const offenders = sourceFiles(folder).flatMap((file) =>
      relativeImports(file)
        .filter((target) => topFolder(target) === 'sandboxes')
        .map((target) => `${relative(root, file)} -> ${target}`),
    );
    expect(offenders).toEqual([]);
  });

  // A production module that imports dev/ (or anything else) that in turn imports sandboxes/ ships the
  // emulators just the same, so the rule holds for everything a production file reaches, not only its own lines.
  it.each(production)('%s/ never reaches sandboxes/ through another folder (dev/, test/, ...)', (folder) => {
    const offenders = sourceFiles(folder).flatMap((file) => {
      const start = relative(root, file);
      const path = reachedSandbox(start);
      return path ? [path.join(' -> ')] : [];
    });
    expect(offenders).toEqual([]);
  });

  it('follows imports through other folders, so the reach check above can fail', () => {
    const graph = new Map<string, string[]>([
      ['connectors/a.ts', ['dev/b.js']],
      ['dev/b.ts', ['sandboxes/c.js']],
    ]);
    const resolve = (target: string) => target.replace(/\.js$/, '.ts');
    expect(reachedSandbox('connectors/a.ts', (file) => graph.get(file) ?? [], resolve)).toEqual([
      'connectors/a.ts',
      'dev/b.ts',
      'sandboxes/c.js',
    ]);
  });

  it('sandboxes/ import nothing of the hub: an emulator sharing the client logic can only agree with it', () => {
    const offenders = sourceFiles('sandboxes').flatMap((file) =>
      relativeImports(file)
        .filter((target) => topFolder(target) !== 'sandboxes')
        .map((target) => `${relative(root, file)} -> ${target}`),
    );
    expect(offenders).toEqual([]);
  });
});

// The brief's direction: entry points → hub-client/workflows → activities → connectors → SDKs, with domain/
// as the floor. Each folder lists what it must never import; shared services (ledger, privacy, logging,
// config) sit beside the chain and never reach back up into it.
const entryPoints = ['workers', 'api', 'cli', 'console', 'dev', 'bin'];
const forbiddenImports: Record<string, string[]> = {
  domain: ['connectors', 'activities', 'workflows', 'hub-client', 'ledger', 'privacy', ...entryPoints],
  connectors: ['activities', 'workflows', 'hub-client', 'ledger', ...entryPoints],
  activities: ['workflows', 'hub-client', ...entryPoints],
  workflows: ['hub-client', 'ledger', 'privacy', ...entryPoints],
  'hub-client': entryPoints,
  ledger: ['connectors', 'activities', 'workflows', 'hub-client', ...entryPoints],
  privacy: ['connectors', 'activities', 'workflows', 'hub-client', ...entryPoints],
};

describe('imports flow one way', () => {
  it.each(Object.entries(forbiddenImports))('%s/ never imports %s', (folder, forbidden) => {
    const offenders = sourceFiles(folder).flatMap((file) =>
      relativeImports(file)
        .filter((target) => forbidden.includes(topFolder(target) as string))
        .map((target) => `${relative(root, file)} -> ${target}`),
    );
    expect(offenders).toEqual([]);
  });
});
