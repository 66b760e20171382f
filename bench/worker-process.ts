import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { cliBinPath } from '../config/package-paths.js';
import { workerProcessEnv } from '../workers/worker-node-options.js';
import { freePort } from './free-port.js';

/**
 * `consent-hub worker` as production runs it, in its own process (so its CPU and memory are its own),
 * ready once its `/readyz` answers 200 (it polls Temporal). Its stderr is shown when it fails to start.
 */
export async function startBenchWorker(env: Record<string, string>) {
  const port = await freePort();
  // BENCH_WORKER_NODE_ARGS: Node flags that NODE_OPTIONS refuses, given on the workers' command line, e.g.
  // `--cpu-prof --cpu-prof-dir=/tmp/prof` for a CPU profile of each worker thread (README "Worker sizing").
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, cliBinPath, 'worker'], {
    env: {
      ...process.env,
      ...env,
      CONSENT_HUB_METRICS_PORT: String(port),
      CONSENT_HUB_METRICS_HOST: '127.0.0.1',
      // The worker's heap flags and malloc settings as dev and docker-compose.yml give them (MALLOC_ARENA_MAX or
      // MALLOC_MMAP_THRESHOLD_ in the shell wins); BENCH_WORKER_NODE_OPTIONS replaces the flags to try others,
      // on the workers alone.
      ...workerProcessEnv({
        MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX,
        MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_,
      }),
      ...(process.env.BENCH_WORKER_NODE_OPTIONS !== undefined
        ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS }
        : {}),
    },
    // BENCH_WORKER_LOG=<file> keeps the workers' log (pino JSON lines) for a look at what slowed a run.
    stdio: ['ignore', process.env.BENCH_WORKER_LOG ? 'pipe' : 'ignore', 'pipe'],
  });
  if (process.env.BENCH_WORKER_LOG)
    child.stdout?.pipe(createWriteStream(process.env.BENCH_WORKER_LOG, { flags: 'a' }));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the worker exited at start: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the worker was not ready within 300 s: ${stderr}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return {
    pid: child.pid,
    metricsUrl: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
