import { describe, expect, it } from 'vitest';
import { loadDevSetup } from '../../cli/commands/dev-command.js';
import { describeCliError, exitCodes } from '../../cli/exit-codes.js';

describe('consent-hub dev on an install without dev/', () => {
  it('says to run the worker and serve instead of printing "Cannot find module" (exit 2)', async () => {
    // A real failed import, as the production image's pruned dist/ gives for dev/run-dev.js.
    const missing = './no-such-dev-setup.js';
    const error = await loadDevSetup(() => import(missing)).catch((e: unknown) => e);
    const described = describeCliError(error);
    expect(described.code).toBe(exitCodes.badInput);
    expect(described.lines.join('\n')).toMatch(
      /needs a source checkout.*consent-hub worker.*consent-hub serve/s,
    );
    expect(described.lines.join('\n')).not.toMatch(/Cannot find module/);
  });

  it('lets any other failure of the dev setup through unchanged', async () => {
    const broken = new Error('port 7233 is taken');
    await expect(loadDevSetup(() => Promise.reject(broken))).rejects.toBe(broken);
  });
});
