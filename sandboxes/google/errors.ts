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
 * Google's API error body: `{"error":{"code","message","status","errors":[{domain,reason,message}]}}`.
 * Quota refusals are 403s whose status is RESOURCE_EXHAUSTED, as Google sends them.
 */
export function googleApiError(code: number, message: string, reason?: GoogleErrorReason): VendorErrorReply {
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
      },
    },
  };
}

/** Google's OAuth token endpoint error body: `{"error":"invalid_grant","error_description":"..."}`. */
export function googleOAuthError(error: string, description: string): VendorErrorReply {
  return {
    contentType: 'application/json; charset=utf-8',
    body: { error, error_description: description },
  };
}
