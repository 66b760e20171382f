import { setTimeout as delay } from 'node:timers/promises';

/**
 * Asks `read` again every `everyMs` milliseconds, up to `tries` times, until it answers something other than
 * undefined, and returns that. Throws `never: <what>` when it never does.
 *
 * `retryErrors`: a read that throws counts as "not yet" (a workflow not started yet, a query its worker cannot
 * answer yet); without it, the error ends the wait and fails the test.
 */
export async function waitFor<T>(
  what: string,
  read: () => Promise<T | undefined>,
  options: { tries?: number; everyMs?: number; retryErrors?: boolean } = {},
): Promise<T> {
  const { tries = 240, everyMs = 250, retryErrors = false } = options;
  for (let i = 0; i < tries; i++) {
    const value = retryErrors ? await read().catch(() => undefined) : await read();
    if (value !== undefined) return value;
    await delay(everyMs);
  }
  throw new Error(`never: ${what}`);
}
