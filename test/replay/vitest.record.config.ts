import { defineConfig } from 'vitest/config';

/** `npm run record-replay-histories`: runs only the recorder, with the suite's global setup. */
export default defineConfig({
  test: {
    pool: 'forks',
    globalSetup: ['./test/support/global-setup.ts'],
    include: ['test/replay/record-histories.record.ts'],
    testTimeout: 300_000,
    hookTimeout: 240_000,
  },
});
