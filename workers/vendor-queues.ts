import { z } from 'zod';
import { type SystemName, systemNames } from '../domain/systems.js';
import { vendorTaskQueue } from '../domain/task-queues.js';

/**
 * How the workers share each vendor's limits, read from the environment. The request rates are held by
 * Temporal's server-side task-queue rate limit (`maxTaskQueueActivitiesPerSecond`: one rate for the queue,
 * whatever the number of workers polling it); connection caps by each worker's activity slots and its
 * connectors' in-process limiters, sized as a share of the cap (CONSENT_HUB_WORKERS). A vendor's 429 with
 * Retry-After stays the last line (activities/vendor-failure.ts).
 */
const rate = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a number (activities a second)` })
    .positive({ error: `${name} must be above 0` })
    .optional();

export const vendorQueueSettingsSchema = z.object({
  /** Worker processes that share the vendors' limits (each takes 1/N of every connection cap). */
  CONSENT_HUB_WORKERS: z.coerce
    .number({ error: 'CONSENT_HUB_WORKERS must be a whole number' })
    .int({ error: 'CONSENT_HUB_WORKERS must be a whole number' })
    .min(1, { error: 'CONSENT_HUB_WORKERS must be at least 1' })
    .default(1),
  CONSENT_HUB_DYNAMICS_ACTIVITIES_PER_SECOND: rate('CONSENT_HUB_DYNAMICS_ACTIVITIES_PER_SECOND'),
  CONSENT_HUB_MAILCHIMP_ACTIVITIES_PER_SECOND: rate('CONSENT_HUB_MAILCHIMP_ACTIVITIES_PER_SECOND'),
  CONSENT_HUB_GOOGLE_ACTIVITIES_PER_SECOND: rate('CONSENT_HUB_GOOGLE_ACTIVITIES_PER_SECOND'),
  /** The GA connector's per-property pace; the Google queue's shared rate follows it. */
  GA_REQUESTS_PER_SECOND: rate('GA_REQUESTS_PER_SECOND'),
  /** Set by the operator, these are this worker's own caps (not divided again); else its share is used. */
  DYNAMICS_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(52).optional(),
  MAILCHIMP_MAX_CONCURRENCY: z.coerce.number().int().min(1).max(10).optional(),
});

/** The vendors' caps on requests in flight at once (per application user; per API key). */
const connectionCaps = {
  /** Dataverse: 52 per user; 48 leaves room for another client (learn.microsoft.com .../api-limits). */
  dynamics: 48,
  /** Mailchimp: 10 simultaneous connections per API key (mailchimp.com/developer/marketing/docs/fundamentals). */
  mailchimp: 10,
} as const;

/**
 * Google Analytics' User Deletion API allows 1.5 requests a second per property
 * (developers.google.com/analytics/devguides/config/userdeletion/v3/limits-quotas). Every GA activity
 * deletes the person's ids in every configured property, so each property sees the same requests and the
 * busiest one is any of them: one queue paced at 1.5 activities a second keeps every property at its rate
 * across all workers, for the usual one id per person; inside an activity, calls to one property keep the
 * in-process pace (connectors/google/pacing.ts), and an activity with several ids overlapping another on a
 * second worker is the case Google's 429 + Retry-After covers. A queue per property would only pay if
 * properties were erased separately; it would split one person's GA step into one activity per property.
 * With one worker (CONSENT_HUB_WORKERS=1) the in-process pace is exact and the queue is left unpaced: the
 * dev server's rate-limited queue dispatched noticeably later than 1.5 a second in the erasure tests.
 */
export const googleActivitiesPerSecond = 1.5;

export interface VendorQueue {
  system: SystemName;
  taskQueue: string;
  /** This worker's activity slots on the queue: its share of the vendor's connection cap. */
  maxConcurrentActivityTaskExecutions: number;
  /** The queue's rate for all workers together, set server-side; undefined leaves it unpaced. */
  maxTaskQueueActivitiesPerSecond?: number;
}

/** Each vendor queue this worker polls, with its slots and the queue's rate. */
export function vendorQueues(hubTaskQueue: string, env: NodeJS.ProcessEnv = process.env): VendorQueue[] {
  const settings = vendorQueueSettingsSchema.parse(env);
  const share = (cap: number) => Math.max(1, Math.floor(cap / settings.CONSENT_HUB_WORKERS));
  const plan: Record<SystemName, Omit<VendorQueue, 'system' | 'taskQueue'>> = {
    // A Dataverse activity keeps at most one request in flight while it looks a person up and writes.
    dynamics: {
      maxConcurrentActivityTaskExecutions:
        settings.DYNAMICS_MAX_CONCURRENCY ?? share(connectionCaps.dynamics),
      maxTaskQueueActivitiesPerSecond: settings.CONSENT_HUB_DYNAMICS_ACTIVITIES_PER_SECOND,
    },
    // An opt-out PATCHes its audiences at once; the connector's limiter holds the connections to the share.
    mailchimp: {
      maxConcurrentActivityTaskExecutions:
        settings.MAILCHIMP_MAX_CONCURRENCY ?? share(connectionCaps.mailchimp),
      maxTaskQueueActivitiesPerSecond: settings.CONSENT_HUB_MAILCHIMP_ACTIVITIES_PER_SECOND,
    },
    google: {
      maxConcurrentActivityTaskExecutions: 2,
      // One worker paces each property exactly in process; only several need the queue's shared rate.
      maxTaskQueueActivitiesPerSecond:
        settings.CONSENT_HUB_GOOGLE_ACTIVITIES_PER_SECOND ??
        (settings.CONSENT_HUB_WORKERS > 1
          ? (settings.GA_REQUESTS_PER_SECOND ?? googleActivitiesPerSecond)
          : undefined),
    },
  };
  return systemNames.map((system) => ({
    system,
    taskQueue: vendorTaskQueue(hubTaskQueue, system),
    ...plan[system],
  }));
}

/**
 * The connectors' environment with this worker's share of each connection cap, where the operator did not
 * set one: with CONSENT_HUB_WORKERS=3, each worker keeps at most 16 Dataverse requests and 3 Mailchimp
 * connections in flight, so three together stay under 52 and 10.
 */
export function connectorEnvForShare(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const settings = vendorQueueSettingsSchema.parse(env);
  const workers = settings.CONSENT_HUB_WORKERS;
  const share = (cap: number) => String(Math.max(1, Math.floor(cap / workers)));
  return {
    ...env,
    DYNAMICS_MAX_CONCURRENCY: env.DYNAMICS_MAX_CONCURRENCY || share(connectionCaps.dynamics),
    MAILCHIMP_MAX_CONCURRENCY: env.MAILCHIMP_MAX_CONCURRENCY || share(connectionCaps.mailchimp),
  };
}
