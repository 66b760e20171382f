/**
 * The V8 heap flags a worker process runs with (NODE_OPTIONS, set by whoever starts the process: `consent-hub
 * dev`, the bench, docker-compose.yml's worker service). Measured with `npm run bench` (README "Worker
 * sizing"): with Node's defaults, V8 lets the main thread's heap grow to about four times its live data before
 * a full collection (its growing factor is 4 when the heap limit is 2 GB or more, about 1.4 at 512 MB), so a
 * worker whose live heap was about 90 MB held 230 MB of heap and 480 MB of RSS during a wave, most of it
 * garbage; and each of its two isolates (the main thread and the workflow thread) commits a 32 MB young
 * generation. V8 reads these flags only when an isolate is created, so they cannot be set from inside the
 * running process for its main thread.
 */
export const workerV8Flags: Readonly<Record<string, number>> = {
  /** MB of old generation per isolate: the live heap of a busy worker is about 90 MB, so 512 leaves room. */
  '--max-old-space-size': 512,
  /** MB per semi-space: the young generation is two of them, 8 MB instead of Node 20's 32 MB. */
  '--max-semi-space-size': 4,
};

/**
 * NODE_OPTIONS for a worker process: the given options with each of workerV8Flags appended unless they
 * already name it (an operator's own value wins). Example: `workerNodeOptions('--enable-source-maps')` is
 * `'--enable-source-maps --max-old-space-size=512 --max-semi-space-size=4'`.
 */
export function workerNodeOptions(existing: string | undefined): string {
  const given = (existing ?? '').trim();
  const named = new Set(
    given
      .split(/\s+/)
      .filter(Boolean)
      .map((option) => option.split('=')[0]?.replaceAll('_', '-')),
  );
  const added = Object.entries(workerV8Flags)
    .filter(([flag]) => !named.has(flag))
    .map(([flag, value]) => `${flag}=${value}`);
  return [given, ...added].filter(Boolean).join(' ');
}

/**
 * glibc malloc arenas for a worker process. glibc gives each thread that allocates its own arena (up to eight
 * per core), and the worker has about 19 threads (Temporal's Rust core, libuv, V8's helpers): measured in
 * `/proc/<pid>/smaps`, their arenas grew from about 26 MB idle to 76 MB during a 2,000-person wave, mostly
 * free space that no thread could reuse. Two arenas keep that space shared (README "Worker sizing").
 */
export const workerMallocArenaMax = 2;

/**
 * glibc's mmap threshold for a worker process, in bytes: an allocation this large or larger gets pages of its
 * own, returned to the system when freed. glibc starts at this value (128 KiB) but raises it up to 32 MB each
 * time such a block is freed, after which a wave's large transient buffers (HTTP bodies, the Temporal core's
 * protobufs) come from the arenas, whose free space stays in RSS. Setting it fixes it at the start value.
 * Measured (bulk path, 2,000 people, compiled worker, load 9-14): VmHWM 304 MB without, 275 MB with
 * (README "Worker sizing").
 */
export const workerMallocMmapThreshold = 131_072;

/** The environment variables a worker process starts with (each kept when the given environment sets it). */
export interface WorkerProcessEnv {
  NODE_OPTIONS: string;
  MALLOC_ARENA_MAX: string;
  MALLOC_MMAP_THRESHOLD_: string;
}

/**
 * The environment variables a worker process starts with, over the given environment: NODE_OPTIONS with the
 * heap flags (workerNodeOptions), MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_, each unless the environment
 * sets it.
 */
export function workerProcessEnv(env: NodeJS.ProcessEnv): WorkerProcessEnv {
  return {
    NODE_OPTIONS: workerNodeOptions(env.NODE_OPTIONS),
    MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || String(workerMallocArenaMax),
    MALLOC_MMAP_THRESHOLD_: env.MALLOC_MMAP_THRESHOLD_ || String(workerMallocMmapThreshold),
  };
}
