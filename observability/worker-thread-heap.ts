import { Session } from 'node:inspector';
import { z } from 'zod';
import type { Logger } from '../logging/logger.js';
import type { HubMetrics } from './hub-metrics.js';

/** One V8 isolate's heap as the inspector reports it (`Runtime.getHeapUsage`), in bytes. */
export interface ThreadHeap {
  usedBytes: number;
  totalBytes: number;
}

/** The inspector's answer to `Runtime.getHeapUsage` from a worker thread, as Node relays it. */
const heapUsageAnswerSchema = z.object({
  id: z.number(),
  result: z.object({ usedSize: z.number(), totalSize: z.number() }).optional(),
});

/**
 * Reads the heaps of this process's worker threads (the Temporal SDK runs workflows in one, its workflow
 * thread) through Node's in-process inspector: `NodeWorker.enable` attaches a session to every worker
 * thread, and `Runtime.getHeapUsage` sent to it answers that isolate's used and total heap. Node 20 has no
 * other way to read another thread's heap (`Worker.getHeapStatistics` came in Node 22.16), and
 * `process.memoryUsage()` counts the main thread's isolate only. Opens no port and enables no debugger
 * domain; a thread that does not answer within `timeoutMs` counts as absent.
 */
export function workerThreadHeaps(timeoutMs = 1000) {
  let session: Session | undefined;
  const threads = new Map<string, string>();
  const pending = new Map<number, (answer: ThreadHeap | undefined) => void>();
  let nextId = 1;

  function connect(): Session {
    if (session) return session;
    const opened = new Session();
    opened.connect();
    opened.on('NodeWorker.attachedToWorker', (event) => {
      const params = event.params as { sessionId: string; workerInfo: { title: string } };
      threads.set(params.sessionId, params.workerInfo.title);
    });
    opened.on('NodeWorker.detachedFromWorker', (event) => {
      threads.delete((event.params as { sessionId: string }).sessionId);
    });
    opened.on('NodeWorker.receivedMessageFromWorker', (event) => {
      let raw: unknown;
      try {
        raw = JSON.parse((event.params as { message: string }).message);
      } catch {
        return;
      }
      const answer = heapUsageAnswerSchema.safeParse(raw);
      if (!answer.success) return;
      const resolve = pending.get(answer.data.id);
      if (!resolve) return;
      pending.delete(answer.data.id);
      const result = answer.data.result;
      resolve(result ? { usedBytes: result.usedSize, totalBytes: result.totalSize } : undefined);
    });
    opened.post('NodeWorker.enable', { waitForDebuggerOnStart: false });
    session = opened;
    return opened;
  }

  function ask(opened: Session, sessionId: string): Promise<ThreadHeap | undefined> {
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      pending.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      opened.post(
        'NodeWorker.sendMessageToWorker',
        { sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) },
        (error) => {
          if (!error) return;
          clearTimeout(timer);
          pending.delete(id);
          resolve(undefined);
        },
      );
    });
  }

  return {
    /** Every worker thread's heap now, by the thread's title (`[worker 1]`); attaches on the first call. */
    async read(): Promise<Map<string, ThreadHeap>> {
      const opened = connect();
      // The attach events of threads that already run arrive right after enable, on the next turns.
      if (threads.size === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      const answers = await Promise.all(
        [...threads].map(async ([sessionId, title]) => [title, await ask(opened, sessionId)] as const),
      );
      return new Map(answers.flatMap(([title, heap]) => (heap ? [[title, heap] as const] : [])));
    },
    close() {
      session?.disconnect();
      session = undefined;
      threads.clear();
    },
  };
}

/**
 * `consent_hub_worker_threads_heap_used_bytes` and `..._total_bytes`: the V8 heaps of the worker's threads
 * other than its main one, summed (the SDK's workflow thread, where every cached workflow run lives), read
 * at scrape time. `consent_hub_nodejs_heap_size_*` counts the main thread only; RSS counts both and more.
 */
export function registerWorkerThreadHeapGauges(metrics: HubMetrics, logger: Logger) {
  const heaps = workerThreadHeaps();
  let warned = false;
  let last: Promise<Map<string, ThreadHeap>> | undefined;
  // One read serves both gauges of a scrape.
  const read = () => {
    last ??= heaps.read().finally(() => {
      setTimeout(() => {
        last = undefined;
      }, 100);
    });
    return last;
  };
  const sum = async (field: keyof ThreadHeap) => {
    try {
      return [...(await read()).values()].reduce((total, heap) => total + heap[field], 0);
    } catch (error) {
      if (!warned) logger.warn({ err: error }, 'worker threads’ heaps cannot be read; the gauges stay 0');
      warned = true;
      return 0;
    }
  };
  metrics.gauge(
    'consent_hub_worker_threads_heap_used_bytes',
    'V8 heap used by the worker threads (the SDK workflow thread), summed, in bytes',
    [],
    async (gauge) => gauge.set(await sum('usedBytes')),
  );
  metrics.gauge(
    'consent_hub_worker_threads_heap_total_bytes',
    'V8 heap committed by the worker threads (the SDK workflow thread), summed, in bytes',
    [],
    async (gauge) => gauge.set(await sum('totalBytes')),
  );
  return heaps;
}
