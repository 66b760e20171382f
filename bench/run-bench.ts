/**
 * `npm run bench [section...]`: prints figures, asserts nothing. Sections:
 *   cli       start-up of the `consent-hub` command next to `node -e 0` (default; starts its own Temporal)
 *   erasure   one erasure end to end at 0 and 50 ms sandbox latency; needs a running `npm start` and
 *             `eval "$(npx consent-hub env)"` first (bench/erasure-latency.ts)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../config/package-paths.js';
import { benchCliStartup } from './cli-startup.js';

const sections = process.argv.slice(2);
const wanted = sections.length > 0 ? sections : ['cli'];
for (const section of wanted) {
  if (section === 'cli') await benchCliStartup();
  else if (section === 'erasure') {
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(packageRoot, 'bench', 'erasure-latency.ts')],
      { stdio: 'inherit' },
    );
    if (result.status !== 0) process.exitCode = result.status ?? 1;
  } else {
    process.stderr.write(`unknown bench section ${section}; known: cli, erasure\n`);
    process.exitCode = 2;
  }
}
