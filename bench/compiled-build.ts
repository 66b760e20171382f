import { spawnSync } from 'node:child_process';
import { compiledIsCurrent } from '../bin/compiled-build.js';
import { packageRoot } from '../config/package-paths.js';

/**
 * Makes sure the bench's `consent-hub worker` processes run the compiled build, as production does: when
 * dist/ is missing or older than a source, runs `npm run build` (about a minute of CPU) and checks it took.
 * A worker launched over a stale dist/ runs its sources through tsx instead, which measured (100 people, bulk
 * path) 265 MB idle RSS against 206 MB compiled and a workflow-thread heap of 41 MB against 28 MB (tsx's
 * loader in each isolate; README "Worker sizing"), so its memory figures would be tsx's, not the hub's.
 * With CONSENT_HUB_RUN_SOURCES=1 it builds nothing and answers 'sources (tsx)': the workers run the sources
 * as asked. Answers what the workers run.
 */
export function ensureCompiledBuild(note: (line: string) => void): 'compiled' | 'sources (tsx)' {
  if (process.env.CONSENT_HUB_RUN_SOURCES === '1') return 'sources (tsx)';
  if (compiledIsCurrent(packageRoot)) return 'compiled';
  note('dist/ is missing or older than the sources: npm run build, so the workers run compiled...');
  const result = spawnSync('npm', ['run', 'build'], {
    cwd: packageRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (result.status !== 0 || !compiledIsCurrent(packageRoot)) {
    throw new Error(
      `npm run build failed (exit ${result.status}): the workers would run their sources through tsx`,
    );
  }
  return 'compiled';
}
