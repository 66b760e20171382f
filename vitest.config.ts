import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's native bridge crashes under worker threads; forks are separate processes.
    pool: 'forks',
    globalSetup: ['./test/support/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 240_000,
    // Two cores: more parallel files than that only makes Temporal and the sandboxes fight for CPU.
    maxWorkers: 2,
  },
});
