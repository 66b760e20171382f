/**
 * The vendors' lower bound for a workload: the least time the minimal calls can take at the vendors'
 * documented limits, whatever the client does. Per vendor, the calls are spread over its concurrency cap
 * (each takes the round trip) and over its request-rate limit (if the calls exceed what the window allows
 * at once); the slowest vendor sets the bound, since the vendors work in parallel.
 */
export interface VendorLimit {
  vendor: string;
  /** Minimal requests for the whole workload. */
  calls: number;
  /** Requests in flight at once the vendor allows (per user or key). */
  concurrency: number;
  /** Requests per window, and the window in seconds (a sliding window), where the vendor has one. */
  perWindow?: { requests: number; seconds: number };
  /** Evenly paced requests per second (no burst), where the vendor sets that instead. */
  perSecond?: number;
  /** Where the limit is documented. */
  source: string;
}

export interface VendorBound {
  vendor: string;
  seconds: number;
  how: string;
}

export function boundFor(limit: VendorLimit, latencyMs: number): VendorBound {
  const byConcurrency = (limit.calls * latencyMs) / 1000 / limit.concurrency;
  const parts = [
    `${limit.calls} calls × ${latencyMs} ms / ${limit.concurrency} at once = ${byConcurrency.toFixed(1)} s`,
  ];
  let seconds = byConcurrency;
  if (limit.perWindow && limit.calls > limit.perWindow.requests) {
    // A sliding window lets `requests` through at once, then one more per window/requests seconds.
    const byWindow =
      ((limit.calls - limit.perWindow.requests) * limit.perWindow.seconds) / limit.perWindow.requests;
    parts.push(
      `beyond ${limit.perWindow.requests} per ${limit.perWindow.seconds} s: ${byWindow.toFixed(1)} s`,
    );
    seconds = Math.max(seconds, byWindow);
  }
  if (limit.perSecond) {
    const byRate = (limit.calls - 1) / limit.perSecond + latencyMs / 1000;
    parts.push(`${limit.calls} calls at ${limit.perSecond}/s = ${byRate.toFixed(1)} s`);
    seconds = Math.max(seconds, byRate);
  }
  return { vendor: limit.vendor, seconds, how: `${parts.join('; ')} (${limit.source})` };
}

/** The bound of a workload spread over vendors working in parallel: the slowest vendor's. */
export function workloadBound(limits: VendorLimit[], latencyMs: number) {
  const bounds = limits.map((l) => boundFor(l, latencyMs));
  const slowest = bounds.reduce((a, b) => (b.seconds > a.seconds ? b : a));
  return { seconds: slowest.seconds, slowest: slowest.vendor, bounds };
}

/** Dataverse: 52 concurrent requests and 6,000 per 5-minute sliding window per application user. */
export const dataverseLimits = {
  concurrency: 52,
  perWindow: { requests: 6000, seconds: 300 },
  source: 'learn.microsoft.com power-apps/developer/data-platform/api-limits',
};
/** Mailchimp: 10 simultaneous connections per API key. */
export const mailchimpLimits = {
  concurrency: 10,
  source: 'mailchimp.com/developer/marketing/docs/fundamentals (10 simultaneous connections)',
};
/** GA User Deletion API: 1.5 requests a second per property. */
export const googleDeletionLimits = {
  concurrency: 1,
  perSecond: 1.5,
  source: 'developers.google.com/analytics/devguides/config/userdeletion/v3/limits-quotas',
};
