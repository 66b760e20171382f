import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  workerMallocArenaMax,
  workerMallocMmapThreshold,
  workerNodeOptions,
  workerProcessEnv,
  workerV8Flags,
} from '../../workers/worker-node-options.js';

const root = join(import.meta.dirname, '..', '..');

describe("the worker's V8 heap flags", () => {
  it('adds every flag to empty options and after options the operator gave', () => {
    const flags = Object.entries(workerV8Flags).map(([flag, value]) => `${flag}=${value}`);
    expect(workerNodeOptions(undefined).split(' ')).toEqual(flags);
    expect(workerNodeOptions('  --enable-source-maps ').split(' ')).toEqual([
      '--enable-source-maps',
      ...flags,
    ]);
  });

  it("keeps an operator's own value of a flag, in either spelling, and adds only the others", () => {
    const options = workerNodeOptions('--max_old_space_size=2048');
    expect(options).toContain('--max_old_space_size=2048');
    expect(options).not.toContain('--max-old-space-size=');
    expect(options).toContain(`--max-semi-space-size=${workerV8Flags['--max-semi-space-size']}`);
  });

  it('bounds the heap of the main thread and of a worker thread (where the SDK runs workflows)', () => {
    // A worker thread made without resourceLimits, as the SDK makes its workflow thread.
    const script = `
      const { getHeapStatistics } = require('node:v8');
      const { Worker } = require('node:worker_threads');
      const mb = () => Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
      const thread = new Worker("const v8 = require('node:v8'); require('node:worker_threads').parentPort.postMessage(Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20))", { eval: true });
      thread.once('message', (threadMb) => { console.log(JSON.stringify({ main: mb(), thread: threadMb })); thread.terminate(); });
    `;
    const run = (nodeOptions: string) =>
      JSON.parse(
        execFileSync(process.execPath, ['-e', script], {
          env: { ...process.env, NODE_OPTIONS: nodeOptions },
        }).toString(),
      ) as { main: number; thread: number };
    const bounded = run(workerNodeOptions(undefined));
    const oldSpace = workerV8Flags['--max-old-space-size'] as number;
    // heap_size_limit is the old generation plus the young one (a few semi-spaces).
    for (const limit of [bounded.main, bounded.thread]) {
      expect(limit).toBeGreaterThanOrEqual(oldSpace);
      expect(limit).toBeLessThan(oldSpace + 64);
    }
    expect(run('').main).toBeGreaterThan(bounded.main);
  });

  it("is what docker-compose.yml's worker service runs with, its malloc settings unless the operator sets their own", () => {
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    const worker = compose.slice(compose.indexOf('\n  worker:\n'));
    const service = worker.slice(0, worker.slice(1).search(/\n {2}\S/) + 1);
    expect(/NODE_OPTIONS: (.+)/.exec(service)?.[1]?.trim()).toBe(workerNodeOptions(undefined));
    // Each malloc setting is the operator's own value (environment or .env) when set, ours otherwise,
    // through compose's `${VAR:-default}`: a value written plainly would silently override theirs.
    expect(/MALLOC_ARENA_MAX: "(.+)"/.exec(service)?.[1]).toBe(
      `\${MALLOC_ARENA_MAX:-${workerMallocArenaMax}}`,
    );
    expect(/MALLOC_MMAP_THRESHOLD_: "(.+)"/.exec(service)?.[1]).toBe(
      `\${MALLOC_MMAP_THRESHOLD_:-${workerMallocMmapThreshold}}`,
    );
  });

  it('gives a worker process few malloc arenas and a fixed mmap threshold unless the environment sets its own', () => {
    expect(workerProcessEnv({})).toEqual({
      NODE_OPTIONS: workerNodeOptions(undefined),
      MALLOC_ARENA_MAX: String(workerMallocArenaMax),
      MALLOC_MMAP_THRESHOLD_: String(workerMallocMmapThreshold),
    });
    expect(
      workerProcessEnv({
        MALLOC_ARENA_MAX: '8',
        MALLOC_MMAP_THRESHOLD_: '65536',
        NODE_OPTIONS: '--trace-gc',
      }),
    ).toEqual({
      NODE_OPTIONS: workerNodeOptions('--trace-gc'),
      MALLOC_ARENA_MAX: '8',
      MALLOC_MMAP_THRESHOLD_: '65536',
    });
  });
});
