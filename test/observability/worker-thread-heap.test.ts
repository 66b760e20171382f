import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../logging/logger.js';
import { createHubMetrics } from '../../observability/hub-metrics.js';
import { registerWorkerThreadHeapGauges, workerThreadHeaps } from '../../observability/worker-thread-heap.js';

const threads: Worker[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((thread) => thread.terminate()));
});

/** A worker thread that holds about `mb` MB of live objects, ready once it says so. */
async function threadHolding(mb: number): Promise<Worker> {
  const thread = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const held = [];
     for (let i = 0; i < ${mb}; i++) held.push(new Array(131072).fill(i + 0.5));
     globalThis.held = held;
     parentPort.postMessage('ready');
     setInterval(() => held.length, 1000);`,
    { eval: true },
  );
  threads.push(thread);
  await new Promise((resolve) => thread.once('message', resolve));
  return thread;
}

describe('the worker threads’ heaps, read through the in-process inspector', () => {
  it('tells a thread holding 40 MB from one holding almost nothing, each by its own heap', async () => {
    await threadHolding(40);
    await threadHolding(0);
    const heaps = workerThreadHeaps();
    try {
      const read = [...(await heaps.read()).values()].map((heap) => heap.usedBytes).sort((a, b) => a - b);
      expect(read).toHaveLength(2);
      expect(read[0]).toBeLessThan(20 * 2 ** 20);
      expect(read[1]).toBeGreaterThan(40 * 2 ** 20);
      for (const heap of (await heaps.read()).values())
        expect(heap.totalBytes).toBeGreaterThanOrEqual(heap.usedBytes);
    } finally {
      heaps.close();
    }
  });

  it('serves their sum as consent_hub_worker_threads_heap_* on the worker’s metrics, 0 with no thread beside the main one', async () => {
    const metrics = createHubMetrics('worker');
    const heaps = registerWorkerThreadHeapGauges(metrics, createLogger({ level: 'silent', format: 'json' }));
    const value = async (name: string) =>
      Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(await metrics.registry.metrics())?.[1]);
    try {
      expect(await value('consent_hub_worker_threads_heap_used_bytes')).toBe(0);
      expect(await value('consent_hub_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
      await threadHolding(30);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const used = await value('consent_hub_worker_threads_heap_used_bytes');
      expect(used).toBeGreaterThan(30 * 2 ** 20);
      expect(await value('consent_hub_worker_threads_heap_total_bytes')).toBeGreaterThanOrEqual(used);
    } finally {
      heaps.close();
    }
  });
});
