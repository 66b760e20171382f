import { boundedText } from '../../domain/bounded-text.js';
import { scrubEmails } from '../../logging/logger.js';
import { CallDropped } from '../call-signal.js';
import {
  type ConnectorOperation,
  isTransientNetworkError,
  NonRetryableVendorError,
  parseRetryAfter,
  RetryableVendorError,
  VendorError,
} from '../connector-errors.js';
import { msUntilPacificMidnight } from './pacific-time.js';

/** What a gaxios error (googleapis, google-auth-library) carries that classification needs. */
interface GaxiosLike {
  message?: string;
  code?: string | number;
  status?: number;
  response?: { status?: number; data?: unknown; headers?: { get?(name: string): string | null } };
  config?: { url?: unknown };
}

interface GoogleApiErrorBody {
  code?: number;
  message?: string;
  status?: string;
  errors?: { reason?: string; message?: string }[];
  details?: { '@type'?: string; reason?: string; metadata?: Record<string, unknown> }[];
}

/**
 * How long a per-second (or per-minute) quota refusal waits when Google sends no Retry-After: the User
 * Deletion API allows 1.5 requests a second per property, so a second refills it.
 */
export const shortQuotaBackoffMs = 1_000;

/**
 * A daily quota, told apart from a rate limit by content, since both come as 429 RESOURCE_EXHAUSTED /
 * rateLimitExceeded today (and as 403 on older answers): the legacy `dailyLimitExceeded` reason, an
 * ErrorInfo whose `quota_limit` is a per-day limit, or a message naming a limit "per day".
 * Sources: https://developers.google.com/analytics/devguides/limits-and-quotas (403 or 429; daily quotas reset
 * at midnight Pacific), https://github.com/googleapis/googleapis/blob/master/google/api/error_reason.proto.
 */
function isDailyQuota(body: GoogleApiErrorBody): boolean {
  if (body.errors?.some((entry) => entry.reason === 'dailyLimitExceeded')) return true;
  const perDay = /per\s*day|daily/i;
  const limits = (body.details ?? [])
    .map((detail) => detail.metadata?.quota_limit)
    .filter((limit): limit is string => typeof limit === 'string');
  if (limits.some((limit) => perDay.test(limit))) return true;
  const quotaAnswer =
    body.status === 'RESOURCE_EXHAUSTED' ||
    body.errors?.some((entry) => entry.reason && retryableReasons.has(entry.reason));
  return limits.length === 0 && Boolean(quotaAnswer) && perDay.test(body.message ?? '');
}

const quotaReasons = new Set([
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'quotaExceeded',
  'RATE_LIMIT_EXCEEDED',
]);

const retryableReasons = new Set([
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'quotaExceeded',
  'backendError',
  'internalError',
  'RATE_LIMIT_EXCEEDED',
]);

/** Readable sentences for the reasons a person has to act on. */
const nonRetryableReasons: Record<string, string> = {
  insufficientPermissions:
    'the service account may not do this: give it the needed role on the GA4 property and check that the property id is right and the token has the scope',
  invalidCredentials: 'Google did not accept the access token: check the service-account key file',
  authError: 'Google did not accept the access token: check the service-account key file',
  invalidParameter: 'Google refused the request as invalid',
  notFound: 'Google does not know this API path or resource: check the API root URL and the property id',
};

/** OAuth token endpoint errors (`{"error":"invalid_grant",...}`): the key or the account is the problem. */
const oauthReasons: Record<string, string> = {
  invalid_grant:
    "Google refused the service account's signed assertion (wrong or revoked key, unknown account, or clock skew)",
  invalid_client: 'Google does not know the service account or it is disabled',
  unauthorized_client: 'the service account is not allowed to use this grant',
  invalid_scope: 'Google refused the requested OAuth scopes',
};

function describe(vendorMessage: string | undefined): string {
  // Cut between words before anything reads it: a cut inside a name keeps a fragment no redaction knows.
  const text = scrubEmails(boundedText((vendorMessage ?? '').trim(), 300));
  return text ? ` Google said: "${text}"` : '';
}

/**
 * The one place a failure talking to Google becomes a RetryableVendorError or a NonRetryableVendorError.
 * Reasons carry Google's HTTP status and reason code and never an email (Google's text is scrubbed, and the
 * gaxios error, whose config holds the request body, is not kept as a cause).
 */
export function classifyGoogleError(
  error: unknown,
  operation: ConnectorOperation,
  context: { timeoutMs?: number; now?: number } = {},
): VendorError {
  if (error instanceof VendorError) return error;
  if (error instanceof CallDropped) {
    // Nothing reached Google; the next attempt sends it.
    return new RetryableVendorError({ system: 'google', operation, reason: error.message });
  }
  const failure = (error ?? {}) as GaxiosLike;
  const status = failure.response?.status ?? failure.status;
  const base = { system: 'google' as const, operation };

  if (status === undefined) {
    if (failure.code === 'TimeoutError' || isTransientNetworkError(error)) {
      // gaxios fetches through node-fetch, which reports the per-call timeout's abort as a plain
      // AbortError; the connector passes no other abort signal, so an abort is the timeout.
      const causeName = (failure as { cause?: { name?: string } }).cause?.name;
      const timedOut =
        failure.code === 'TimeoutError' || causeName === 'AbortError' || causeName === 'TimeoutError';
      return new RetryableVendorError({
        ...base,
        vendorCode: typeof failure.code === 'string' ? failure.code : undefined,
        reason: timedOut
          ? `Google did not answer within ${context.timeoutMs ?? 'the'} ms`
          : `Google could not be reached (${String(failure.code ?? 'network error')})`,
      });
    }
    return new NonRetryableVendorError({
      ...base,
      vendorCode: typeof failure.code === 'string' ? failure.code : undefined,
      reason: `the Google client failed before any answer: ${scrubEmails(boundedText(failure.message ?? String(error), 300))}`,
    });
  }

  const data = failure.response?.data as { error?: unknown; error_description?: unknown } | undefined;
  const retryAfterHeader = failure.response?.headers?.get?.('retry-after');

  if (typeof data?.error === 'string') {
    const code = data.error;
    const description = typeof data.error_description === 'string' ? data.error_description : undefined;
    if (status === 429 || status >= 500) {
      return new RetryableVendorError({
        ...base,
        status,
        vendorCode: code,
        reason: `Google's token endpoint is unavailable (${code}).${describe(description)}`,
        retryAfterMs: parseRetryAfter(retryAfterHeader),
      });
    }
    return new NonRetryableVendorError({
      ...base,
      status,
      vendorCode: code,
      reason: `bad credentials: ${oauthReasons[code] ?? `the token endpoint refused them (${code})`}.${describe(description)}`,
    });
  }

  const body = (
    typeof data?.error === 'object' && data.error !== null ? data.error : {}
  ) as GoogleApiErrorBody;
  const reasonCode =
    body.errors?.find((entry) => entry.reason)?.reason ?? body.details?.find((entry) => entry.reason)?.reason;
  const vendorCode = reasonCode ?? body.status;
  const said = describe(body.message);

  if ((status === 429 || status === 403) && isDailyQuota(body)) {
    return new RetryableVendorError({
      ...base,
      status,
      vendorCode,
      reason: `Google's daily user-deletion quota is used up; it resets at midnight Pacific time.${said}`,
      retryAfterMs: msUntilPacificMidnight(context.now ?? Date.now()),
    });
  }
  if (status === 429 || (reasonCode && quotaReasons.has(reasonCode))) {
    // A per-second (or per-minute) limit: back off briefly, not for a day.
    return new RetryableVendorError({
      ...base,
      status,
      vendorCode,
      reason: `Google is limiting the request rate (${vendorCode ?? status}).${said}`,
      retryAfterMs: parseRetryAfter(retryAfterHeader) ?? shortQuotaBackoffMs,
    });
  }
  if ((reasonCode && retryableReasons.has(reasonCode)) || status === 408 || status === 429 || status >= 500) {
    return new RetryableVendorError({
      ...base,
      status,
      vendorCode,
      reason: `Google is ${status === 429 || status === 403 ? 'limiting the request rate' : 'temporarily unavailable'} (${vendorCode ?? status}).${said}`,
      retryAfterMs: parseRetryAfter(retryAfterHeader),
    });
  }
  const known =
    (reasonCode && nonRetryableReasons[reasonCode]) ??
    (status === 401
      ? nonRetryableReasons.invalidCredentials
      : status === 403
        ? nonRetryableReasons.insufficientPermissions
        : status === 404
          ? nonRetryableReasons.notFound
          : status === 400
            ? nonRetryableReasons.invalidParameter
            : `Google refused the request`);
  return new NonRetryableVendorError({
    ...base,
    status,
    vendorCode,
    reason: `${status === 401 ? 'bad credentials: ' : ''}${known} (${vendorCode ?? status}).${said}`,
  });
}
