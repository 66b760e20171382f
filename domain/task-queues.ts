import type { SystemName } from './systems.js';

/**
 * The task queue a vendor's activities run on: the hub's queue with the system's name after it
 * (`consent-hub-dynamics`, `consent-hub-mailchimp`, `consent-hub-google`). Workflows stay on the hub's
 * queue. A queue per vendor lets Temporal itself hold each vendor's limits across every worker: the
 * server-side rate limit of the queue (maxTaskQueueActivitiesPerSecond) paces requests for all workers
 * together, and each worker's activity slots on it are its share of the vendor's connection cap.
 */
export function vendorTaskQueue(hubTaskQueue: string, system: SystemName): string {
  return `${hubTaskQueue}-${system}`;
}
