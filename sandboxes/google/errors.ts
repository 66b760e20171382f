import type { VendorErrorReply } from '../framework/sandbox-definition.js';

/** Google's error reasons (the `errors[].reason` of its JSON error body) that the sandbox answers with. */
export type GoogleErrorReason =
  | 'invalidParameter'
  | 'invalidCredentials'
  | 'insufficientPermissions'
  | 'notFound'
  | 'rateLimitExceeded'
  | 'userRateLimitExceeded'
  | 'dailyLimitExceeded'
  | 'internalError'
  | 'backendError'
  | 'unknown';

/** The canonical gRPC status name Google puts in `error.status` for each HTTP code. */
const statusNames: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

const defaultReasons: Record<number, GoogleErrorReason> = {
  400: 'invalidParameter',
  401: 'invalidCredentials',
  403: 'insufficientPermissions',
  404: 'notFound',
  429: 'rateLimitExceeded',
  500: 'internalError',
  503: 'backendError',
};

/**
 * Google's API error body: `{"error":{"code","message","status","errors":[{domain,reason,message}],"details"?}}`
 * (https://cloud.google.com/apis/design/errors#http_mapping).
 */
export function googleApiError(
  code: number,
  message: string,
  reason?: GoogleErrorReason,
  details?: unknown[],
): VendorErrorReply {
  const chosen = reason ?? defaultReasons[code] ?? 'unknown';
  const quota =
    chosen === 'rateLimitExceeded' || chosen === 'userRateLimitExceeded' || chosen === 'dailyLimitExceeded';
  return {
    contentType: 'application/json; charset=UTF-8',
    body: {
      error: {
        code,
        message,
        status: quota ? 'RESOURCE_EXHAUSTED' : (statusNames[code] ?? 'UNKNOWN'),
        errors: [{ domain: quota ? 'usageLimits' : 'global', reason: chosen, message }],
        ...(details ? { details } : {}),
      },
    },
  };
}

/** Which User Deletion API quota a request ran into. */
export interface QuotaRefusal {
  /** `second`: the per-property rate; `day`: a daily quota, which resets at midnight Pacific time. */
  per: 'second' | 'day';
  scope: 'property' | 'project';
  limit: number;
  /** The Cloud project of the caller (the `consumer` in ErrorInfo). */
  project: string;
}

/**
 * A quota refusal as Google's APIs send one today: 429 RESOURCE_EXHAUSTED, `errors[].reason`
 * rateLimitExceeded for every quota, the limit named in the message, and a `google.rpc.ErrorInfo` detail
 * (reason RATE_LIMIT_EXCEEDED) whose `quota_limit` says whether it is a per-day or a per-second limit.
 * Sources: https://developers.google.com/analytics/devguides/limits-and-quotas ("403 or 429"; daily quotas
 * reset at midnight Pacific), https://github.com/googleapis/googleapis/blob/master/google/api/error_reason.proto
 * (RATE_LIMIT_EXCEEDED and its ErrorInfo metadata), https://cloud.google.com/apis/design/errors#error_details.
 */
export function googleQuotaError(refusal: QuotaRefusal): VendorErrorReply {
  const period = refusal.per === 'day' ? 'per day' : 'per second';
  const limitName = `User Deletion Requests ${period} per ${refusal.scope}`;
  const quotaLimit = `UserDeletionRequestsPer${refusal.per === 'day' ? 'Day' : 'Second'}Per${
    refusal.scope === 'property' ? 'Property' : 'Project'
  }`;
  const message = `Quota exceeded for quota metric 'User Deletion Requests' and limit '${limitName}' of service 'analytics.googleapis.com' for consumer 'project:${refusal.project}'.`;
  return googleApiError(429, message, 'rateLimitExceeded', [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'RATE_LIMIT_EXCEEDED',
      domain: 'googleapis.com',
      metadata: {
        service: 'analytics.googleapis.com',
        consumer: `projects/${refusal.project}`,
        quota_metric: 'analytics.googleapis.com/user_deletion_requests',
        quota_limit: quotaLimit,
        quota_limit_value: String(refusal.limit),
        quota_location: 'global',
      },
    },
    {
      '@type': 'type.googleapis.com/google.rpc.Help',
      links: [
        {
          description: 'Request a higher quota limit.',
          url: 'https://cloud.google.com/docs/quotas/help/request_increase',
        },
      ],
    },
  ]);
}

/** Google's OAuth token endpoint error body: `{"error":"invalid_grant","error_description":"..."}`. */
export function googleOAuthError(error: string, description: string): VendorErrorReply {
  return {
    contentType: 'application/json; charset=utf-8',
    body: { error, error_description: description },
  };
}
