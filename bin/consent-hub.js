#!/usr/bin/env node
// Runs the compiled CLI from dist/ (built by `npm run build`, which `npm install` runs as its prepare step)
// when it is at least as new as every TypeScript source, so a command starts in well under a second. When a
// source is newer (someone edited it and did not rebuild) or there is no build, it runs the sources through
// tsx instead: slower, never stale. The production image has no sources and no tsx, only dist/.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', 'build-info.json');

/** The newest modification time of a .ts file under the given folders (skipping tests and node_modules). */
function newestSource(dirs) {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of dirs) walk(join(root, dir));
  return newest;
}

function compiledIsCurrent() {
  if (process.env.CONSENT_HUB_RUN_SOURCES === '1' || !existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  const sourceDirs = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !['node_modules', 'dist', 'test', 'bench', '.git'].includes(e.name))
    .filter((e) => !e.name.startsWith('.'))
    .map((e) => e.name);
  return newestSource(sourceDirs) <= built;
}

if (compiledIsCurrent()) {
  await import('../dist/cli/main.js');
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      'consent-hub: dist/ is missing or older than the sources, and tsx (a dev dependency) is not installed: run `npm run build`.\n',
    );
    process.exit(2);
  }
  register();
  await import('../cli/main.ts');
}
