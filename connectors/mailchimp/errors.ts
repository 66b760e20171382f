import { z } from 'zod';
import { boundedText } from '../../domain/bounded-text.js';
import { scrubEmails } from '../../logging/logger.js';
import {
  type ConnectorOperation,
  isTransientNetworkError,
  NonRetryableVendorError,
  parseRetryAfter,
  RetryableVendorError,
  type VendorError,
} from '../connector-errors.js';

/** Mailchimp's `application/problem+json` body. Every field is optional: a proxy may answer instead. */
const problemSchema = z
  .object({
    title: z.string().optional(),
    detail: z.string().optional(),
    status: z.number().optional(),
    errors: z.array(z.object({ field: z.string().optional(), message: z.string().optional() })).optional(),
  })
  .loose();

/** What superagent (under the SDK) rejects with: `status` and `response` for HTTP answers, `code` otherwise. */
const sdkErrorSchema = z
  .object({
    status: z.number().optional(),
    timeout: z.number().optional(),
    code: z.string().optional(),
    response: z
      .object({
        body: z.unknown().optional(),
        headers: z.record(z.string(), z.unknown()).optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

function httpStatus(error: unknown): number | undefined {
  const parsed = sdkErrorSchema.safeParse(error);
  return parsed.success ? parsed.data.status : undefined;
}

/**
 * A 404. Mailchimp answers the same "Resource Not Found" for a missing member and a missing audience, so a
 * caller may read it as "no such member" only once it knows the audience exists (see `mailchimpAudienceMissing`).
 * A 405 is never a not-found.
 */
export function isMailchimpNotFound(error: unknown): boolean {
  return httpStatus(error) === 404;
}

/**
 * A configured audience that Mailchimp does not know (`GET /lists/{id}` answered 404): a wrong or deleted
 * MAILCHIMP_AUDIENCE_IDS entry, or a key of another account. Non-retryable and named, never "not found" for
 * the person: reading it as "member already gone" would report erasures complete that never ran.
 */
export function mailchimpAudienceMissing(audienceId: string, operation: ConnectorOperation): VendorError {
  return new NonRetryableVendorError({
    system: 'mailchimp',
    operation,
    status: 404,
    vendorCode: 'Resource Not Found',
    reason: `Mailchimp has no audience ${audienceId} for this API key (404 Resource Not Found): check MAILCHIMP_AUDIENCE_IDS and the key's account`,
  });
}

/**
 * The one place a Mailchimp failure becomes a VendorError. 429, 5xx, timeouts and network failures are
 * retryable; every other answer (401, 403, 400 ...) needs a person. Reasons carry the problem's title and
 * detail with any address scrubbed, because Mailchimp quotes the email in details such as
 * "Forgotten Email Not Subscribed".
 */
export function toMailchimpError(
  error: unknown,
  operation: ConnectorOperation,
  context: { audienceId?: string } = {},
): VendorError {
  if (error instanceof RetryableVendorError || error instanceof NonRetryableVendorError) return error;
  const parsed = sdkErrorSchema.safeParse(error);
  const sdkError = parsed.success ? parsed.data : {};
  const base = { system: 'mailchimp' as const, operation };

  if (sdkError.status !== undefined) {
    const status = sdkError.status;
    const problem = problemSchema.safeParse(sdkError.response?.body);
    const title = problem.success ? problem.data.title : undefined;
    const detail = problem.success ? problem.data.detail : undefined;
    const fieldErrors =
      problem.success && problem.data.errors?.length
        ? ` (${problem.data.errors.map((e) => `${e.field ?? '?'}: ${e.message ?? '?'}`).join('; ')})`
        : '';
    const where = context.audienceId ? ` in audience ${context.audienceId}` : '';
    // 405: the method does not fit the resource (or, on DELETE, the member's state). It says nothing about
    // whether the member exists, so it is a configuration or programming error, never "already done".
    const hint =
      status === 405
        ? '; the request does not fit this resource (check MAILCHIMP_AUDIENCE_IDS and MAILCHIMP_API_URL)'
        : '';
    // Mailchimp's detail and field errors may echo what was sent, of any size: bounded before anything reads them.
    const reason = scrubEmails(
      `Mailchimp answered ${status}${title ? ` ${boundedText(title, 200)}` : ''}${where}${detail ? `: ${boundedText(detail)}` : ''}${boundedText(fieldErrors)}${hint}`,
    );
    const fields = { ...base, status, vendorCode: title, reason };
    if (status === 429 || status === 408 || status >= 500) {
      // Mailchimp does not promise Retry-After on 429; when absent, Temporal's backoff sets the pace.
      const header = sdkError.response?.headers?.['retry-after'];
      return new RetryableVendorError({
        ...fields,
        retryAfterMs: parseRetryAfter(typeof header === 'string' ? header : undefined),
      });
    }
    return new NonRetryableVendorError(fields);
  }

  if (sdkError.timeout !== undefined) {
    return new RetryableVendorError({
      ...base,
      vendorCode: sdkError.code,
      reason: `Mailchimp did not answer within ${sdkError.timeout} ms`,
    });
  }
  if (isTransientNetworkError(error) || sdkError.code === 'ECONNRESET' || sdkError.code === 'EPROTO') {
    return new RetryableVendorError({
      ...base,
      vendorCode: sdkError.code,
      reason: `Mailchimp could not be reached (${sdkError.code ?? 'network error'})`,
    });
  }
  // Not an answer from Mailchimp: a programming error or an answer we could not read. Retrying the same
  // input would fail the same way.
  const message = error instanceof Error ? error.message : String(error);
  return new NonRetryableVendorError({
    ...base,
    reason: scrubEmails(`Unexpected failure talking to Mailchimp: ${boundedText(message)}`),
  });
}

/** One entry of `errors[]` in the answer to batch subscribe or unsubscribe (`POST /lists/{list_id}`). */
export interface MailchimpBatchMemberError {
  error?: string;
  error_code?: string;
}

/**
 * What one member's error in a batch subscribe/unsubscribe answer means for an opt-out written there
 * (https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/; the spec's error codes
 * are ERROR_CONTACT_EXISTS and ERROR_GENERIC). An address that was permanently deleted cannot be re-imported
 * ("Forgotten Email Not Subscribed" as a single call says it): Mailchimp holds nothing for it, so the opt-out
 * has nothing to change, `not_found`. Every other error is a named, non-retryable failure of that member: the
 * same input fails the same way (ERROR_CONTACT_EXISTS cannot happen with `update_existing: true`, so it is a
 * fault of the request, never "already done"). The address Mailchimp quotes is scrubbed from the reason.
 */
export function classifyMailchimpBatchMemberError(
  entry: MailchimpBatchMemberError,
  audienceId: string,
): 'not_found' | NonRetryableVendorError {
  const text = entry.error ?? '';
  if (/permanently deleted|forgotten email/i.test(text)) return 'not_found';
  return new NonRetryableVendorError({
    system: 'mailchimp',
    operation: 'applyConsent',
    status: 200,
    vendorCode: entry.error_code,
    reason: scrubEmails(
      `Mailchimp refused the member in batch subscribe/unsubscribe in audience ${audienceId}: ${entry.error_code ?? 'error'}${text ? ` (${boundedText(text)})` : ''}`,
    ),
  });
}
