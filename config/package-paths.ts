import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where this package's files are, whether the code runs from its TypeScript sources (tsx) or from the
 * compiled copy in `dist/`: the same module sits one folder deeper in the second case, so paths are found
 * from the package root (the nearest folder with a package.json), never by counting `../`.
 */
function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

const here = dirname(fileURLToPath(import.meta.url));

export const packageRoot = findPackageRoot(here);

/** True when this code is the compiled output of `npm run build` rather than the TypeScript sources. */
export const runningCompiled = import.meta.url.endsWith('.js');

/** The compiled output of `npm run build`. */
export const distDir = join(packageRoot, 'dist');

/** The CLI's entry point, for spawning `consent-hub worker` and `consent-hub serve` as their own processes. */
export const cliBinPath = join(packageRoot, 'bin', 'consent-hub.js');

/** The pre-built workflow bundle `npm run build` writes (`bundleWorkflowCode`). */
export const workflowBundleFile = join(distDir, 'workflow-bundle.js');
