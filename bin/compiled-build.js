// Whether dist/ (the compiled build of `npm run build`) is current: its stamp, dist/build-info.json, is at
// least as new as every input of that build: each TypeScript source and each CommonJS file it copies (the
// payload and failure converters, privacy/*.cjs) outside node_modules, dist, test, bench and dot-folders, and
// the compiler's settings and the locked dependencies the workflow bundle is made of (tsconfig.json,
// tsconfig.build.json, package-lock.json). The launcher (bin/consent-hub.js) runs dist/ only then and the
// sources through tsx otherwise; `npm run bench` builds first when it is not, so its workers run compiled, as
// production does (README "Worker sizing"). Plain JavaScript: it runs before tsx is registered.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Sources the build reads: tsc compiles .ts, build/bundle-workflows copies .cjs into dist/. A declaration
 * (.d.ts, bin/compiled-build.d.ts) compiles to nothing, and the image that runs ships bin/ with it and no
 * tsx: counting it would send a container whose clock put it after the build to the sources it lacks.
 */
const sourceFile = /(?<!\.d)\.ts$|\.cjs$/;

/** Files at the package's root that change what the build makes (the image that runs has none of them). */
const buildSettings = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

/** The newest modification time (ms) of a source file under the given folders of root (none: 0). */
function newestSource(root, dirs) {
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
      else if (sourceFile.test(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of dirs) walk(join(root, dir));
  return newest;
}

/**
 * True when the package at root has a compiled build at least as new as its sources and build settings, and
 * CONSENT_HUB_RUN_SOURCES is not '1' in env.
 * @param {string} root the package's folder (where package.json is)
 * @param {Record<string, string | undefined>} env
 * @returns {boolean}
 */
export function compiledIsCurrent(root, env = process.env) {
  const stamp = join(root, 'dist', 'build-info.json');
  if (env.CONSENT_HUB_RUN_SOURCES === '1' || !existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  const sourceDirs = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !['node_modules', 'dist', 'test', 'bench', '.git'].includes(e.name))
    .filter((e) => !e.name.startsWith('.'))
    .map((e) => e.name);
  const settings = buildSettings
    .map((name) => join(root, name))
    .filter((path) => existsSync(path))
    .map((path) => statSync(path).mtimeMs);
  return Math.max(newestSource(root, sourceDirs), ...settings) <= built;
}
