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
