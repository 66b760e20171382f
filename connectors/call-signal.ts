import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The abort signal of the activity attempt a connector call runs in, carried implicitly so that the
 * Connector interface stays the same for every vendor. The activities' factory sets it around each
 * connector call (fired when Temporal cancels the activity, the worker shuts down past its grace time, or
 * the attempt's start-to-close time is up); code that would otherwise send a request late (a call queued
 * behind a rate limit) reads it and drops the call instead.
 */
const storage = new AsyncLocalStorage<AbortSignal>();

export function runWithCallSignal<T>(signal: AbortSignal, run: () => Promise<T>): Promise<T> {
  return storage.run(signal, run);
}

/** The current attempt's signal, or undefined outside an activity (tests calling a connector directly). */
export function currentCallSignal(): AbortSignal | undefined {
  return storage.getStore();
}

/** A call that was never sent, because its attempt ended while it waited for its turn. */
export class CallDropped extends Error {
  override readonly name = 'CallDropped';
}
