import pThrottle from 'p-throttle';

type Paced = <T>(call: () => Promise<T>) => Promise<T>;

/**
 * One throttle per GA4 property for the whole process, shared by every connector instance and so by
 * every activity of a worker: Google counts the rate per property, and a burst of erasures must queue
 * here rather than be refused there. Calls start evenly spaced (one per 1/rate seconds), so they also keep
 * within a limit that allows no burst at all.
 */
const throttles = new Map<string, Paced>();

export function paceForProperty<T>(
  propertyId: string,
  requestsPerSecond: number,
  call: () => Promise<T>,
): Promise<T> {
  const key = `${propertyId}@${requestsPerSecond}`;
  let paced = throttles.get(key);
  if (!paced) {
    const throttle = pThrottle({ limit: 1, interval: Math.ceil(1000 / requestsPerSecond), strict: true });
    paced = throttle((next: () => Promise<unknown>) => next()) as Paced;
    throttles.set(key, paced);
  }
  return paced(call);
}
