import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compiledIsCurrent } from '../../bin/compiled-build.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A package folder with one source (workers/w.ts) and, when built is given, a stamp; times in seconds. */
function packageWith(source: number, built?: number, extra: Record<string, number> = {}) {
  const root = mkdtempSync(join(tmpdir(), 'consent-hub-compiled-build-'));
  roots.push(root);
  const file = (path: string, at: number) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), '');
    utimesSync(join(root, path), at, at);
  };
  file('package.json', 1);
  file(join('workers', 'w.ts'), source);
  if (built !== undefined) file(join('dist', 'build-info.json'), built);
  for (const [path, at] of Object.entries(extra)) file(path, at);
  return root;
}

describe('the launcher and the bench run dist/ only while it is as new as every source', () => {
  it('is current when the stamp is newer than every source', () => {
    expect(compiledIsCurrent(packageWith(1_000, 2_000), {})).toBe(true);
  });

  it('is stale when a source is newer than the stamp, or there is no build', () => {
    expect(compiledIsCurrent(packageWith(3_000, 2_000), {})).toBe(false);
    expect(compiledIsCurrent(packageWith(1_000), {})).toBe(false);
  });

  it('is stale when a file the build copies (a .cjs converter) or a build setting is newer than the stamp', () => {
    for (const input of [
      join('privacy', 'failure-converter.cjs'),
      'tsconfig.json',
      'tsconfig.build.json',
      'package-lock.json',
    ]) {
      expect(compiledIsCurrent(packageWith(1_000, 2_000, { [input]: 3_000 }), {}), input).toBe(false);
      expect(compiledIsCurrent(packageWith(1_000, 2_000, { [input]: 1_500 }), {}), input).toBe(true);
    }
  });

  it('ignores tests, benches and dependencies, which the build does not compile', () => {
    const root = packageWith(1_000, 2_000, {
      [join('test', 't.ts')]: 3_000,
      [join('bench', 'b.ts')]: 3_000,
      [join('node_modules', 'x', 'x.ts')]: 3_000,
    });
    expect(compiledIsCurrent(root, {})).toBe(true);
  });

  it('ignores declarations (bin/compiled-build.d.ts ships in the image, which has no sources and no tsx)', () => {
    const root = packageWith(1_000, 2_000, { [join('bin', 'compiled-build.d.ts')]: 3_000 });
    expect(compiledIsCurrent(root, {})).toBe(true);
  });

  it('runs the sources when CONSENT_HUB_RUN_SOURCES=1 whatever the build', () => {
    expect(compiledIsCurrent(packageWith(1_000, 2_000), { CONSENT_HUB_RUN_SOURCES: '1' })).toBe(false);
  });
});
