import { readdirSync, readFileSync } from 'node:fs';
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

  it('sandboxes/ import nothing of the hub: an emulator sharing the client logic can only agree with it', () => {
    const offenders = sourceFiles('sandboxes').flatMap((file) =>
      relativeImports(file)
        .filter((target) => topFolder(target) !== 'sandboxes')
        .map((target) => `${relative(root, file)} -> ${target}`),
    );
    expect(offenders).toEqual([]);
  });
});
