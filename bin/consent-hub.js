#!/usr/bin/env node
// Runs the compiled CLI from dist/ (built by `npm run build`, which `npm install` runs as its prepare step)
// when it is at least as new as every source and build setting (bin/compiled-build.js), so a command starts in well under a second. When a
// source is newer (someone edited it and did not rebuild) or there is no build, it runs the sources through
// tsx instead: slower, never stale. The production image has no sources and no tsx, only dist/.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledIsCurrent } from './compiled-build.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (compiledIsCurrent(root)) {
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
