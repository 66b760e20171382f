import pThrottle from 'p-throttle';
import { CallDropped, currentCallSignal } from '../call-signal.js';

type Paced = <T>(call: () => Promise<T>) => Promise<T>;

/**
 * One throttle per GA4 property for the whole process, shared by every connector instance and so by
 * every activity of a worker: Google counts the rate per property, and a burst of erasures must queue
 * here rather than be refused there. Calls start evenly spaced (one per 1/rate seconds), so they also keep
 * within a limit that allows no burst at all.
 *
 * A queued call whose activity attempt ends (cancelled, worker shut down, start-to-close time up) before
 * its slot comes is dropped, never sent late: the caller gets CallDropped at once, and the slot, when it
 * comes, is passed on without a request.
 */
const throttles = new Map<string, Paced>();

export function paceForProperty<T>(
  propertyId: string,
  requestsPerSecond: number,
  call: () => Promise<T>,
  signal: AbortSignal | undefined = currentCallSignal(),
): Promise<T> {
  const key = `${propertyId}@${requestsPerSecond}`;
  let paced = throttles.get(key);
  if (!paced) {
    const throttle = pThrottle({ limit: 1, interval: Math.ceil(1000 / requestsPerSecond), strict: true });
    paced = throttle((next: () => Promise<unknown>) => next()) as Paced;
    throttles.set(key, paced);
  }
  if (!signal) return paced(call);
  const dropped = () => new CallDropped('the activity attempt ended before its paced slot came; not sent');
  if (signal.aborted) return Promise.reject(dropped());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(dropped());
    signal.addEventListener('abort', onAbort, { once: true });
    paced(() => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return Promise.reject(dropped());
      return call();
    }).then(resolve, reject);
  });
}
