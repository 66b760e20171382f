import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits until `probe` resolves true, however long that takes on a loaded machine, printing progress every
 * `progressEveryMs` so a slow start is visibly alive. Stops with an error only when `failed()` says the
 * part is gone (its process exited) or the caller's signal aborts (Ctrl-C).
 */
export async function waitUntil(options: {
  what: string;
  probe: () => Promise<boolean>;
  failed?: () => string | undefined;
  print: (line: string) => void;
  signal?: AbortSignal;
  progressEveryMs?: number;
}): Promise<void> {
  const started = Date.now();
  const every = options.progressEveryMs ?? 10_000;
  let nextProgress = started + every;
  for (;;) {
    options.signal?.throwIfAborted();
    const failure = options.failed?.();
    if (failure) throw new Error(`${options.what}: ${failure}`);
    if (await options.probe().catch(() => false)) return;
    if (Date.now() >= nextProgress) {
      options.print(
        `  still waiting for ${options.what} (${Math.round((Date.now() - started) / 1000)} s)...`,
      );
      nextProgress += every;
    }
    await delay(250);
  }
}

/** True when `url` answers 200. */
export async function answers200(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
