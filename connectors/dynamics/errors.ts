import { GraphClientError, GraphError } from '@microsoft/microsoft-graph-client';
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

/**
 * A failure below the Graph client's error handling: getting a token, or the HTTP call itself. The Graph
 * client turns any other error into a GraphError that keeps only the message, so the middleware wraps these
 * in a GraphClientError (which the client passes through unchanged) to keep the original for classification.
 */
export class DynamicsTransportFailure extends GraphClientError {
  constructor(
    readonly stage: 'token' | 'http',
    readonly original: unknown,
    readonly timeoutMs?: number,
  ) {
    super(original instanceof Error ? original.message : String(original));
    Object.setPrototypeOf(this, DynamicsTransportFailure.prototype);
  }
}

/** The Dataverse answer that means "that row is not there" (on delete or on PATCH with If-Match: *). */
export function isAlreadyGone(error: unknown): boolean {
  return error instanceof GraphError && error.statusCode === 404;
}

/**
 * Dataverse's refusal of a `$deltatoken` it no longer honours (ExpiredVersionStamp, 0x80044352, as the
 * sandbox sends it): the caller must read the table in full again.
 */
export function isExpiredDeltaToken(error: unknown): boolean {
  return error instanceof GraphError && error.statusCode === 400 && error.code === '0x80044352';
}

export function isUnauthorized(error: unknown): boolean {
  return error instanceof GraphError && error.statusCode === 401;
}

const system = 'dynamics' as const;

/**
 * A Dataverse text as a reason: whitespace folded, at most `max` characters cut between words (a cut inside a
 * name would keep a fragment the subject's redaction no longer knows), then every address scrubbed.
 */
function readable(text: string | null | undefined, max = 300): string {
  return scrubEmails(
    boundedText(
      String(text ?? '')
        .replace(/\s+/g, ' ')
        .trim(),
      max,
    ),
  );
}

/** "Principal user ... is missing prvDeletecontact privilege" → "the Delete privilege on contact". */
function privilegeReason(message: string): string | undefined {
  const match = /\bprv(Read|Create|Write|Delete|Append|AppendTo|Assign|Share)([A-Za-z_]+)\b/.exec(message);
  if (!match) return undefined;
  return `the application user lacks the ${match[1]} privilege on ${match[2]} (prv${match[1]}${match[2]}); give its security role that privilege`;
}

interface IdentityErrorShape {
  name?: string;
  statusCode?: number;
  errorResponse?: { error?: string; errorDescription?: string };
  message?: string;
}

/** OAuth and MSAL error codes that say "try again later" rather than "fix the configuration". */
const retryableTokenCodes = new Set([
  'temporarily_unavailable',
  'server_error',
  'network_error',
  'request_timeout',
  // MSAL could not read the tenant's metadata: the authority was unreachable (or the tenant is unknown).
  'endpoints_resolution_error',
]);

function classifyTokenFailure(operation: ConnectorOperation, original: unknown): VendorError {
  if (isTransientNetworkError(original)) {
    return new RetryableVendorError({
      system,
      operation,
      reason: 'Entra ID could not be reached for a token',
    });
  }
  const identity = (original ?? {}) as IdentityErrorShape;
  const message = identity.message ?? String(original);
  // @azure/identity turns Entra's answer into AuthenticationRequiredError("invalid_client: Error(s): ...
  // Description: AADSTS7000215: ..."), dropping the HTTP status; the OAuth code leads the message.
  const code = identity.errorResponse?.error ?? /^([a-z_]+):/.exec(message)?.[1];
  const aadsts = /AADSTS\d+:[\s\S]*?(?= - Trace ID| - Correlation ID|$)/.exec(message)?.[0];
  const description = readable(identity.errorResponse?.errorDescription ?? aadsts ?? message);
  const status = typeof identity.statusCode === 'number' ? identity.statusCode : undefined;
  const transient =
    (status !== undefined && (status === 429 || status >= 500)) ||
    (code !== undefined && retryableTokenCodes.has(code));
  if (transient) {
    return new RetryableVendorError({
      system,
      operation,
      status,
      vendorCode: code,
      reason: `no token could be obtained from Entra ID for now (check DYNAMICS_AUTHORITY_HOST and DYNAMICS_TENANT_ID if this persists): ${description}`,
    });
  }
  return new NonRetryableVendorError({
    system,
    operation,
    status,
    vendorCode: code,
    reason: `Entra ID refused the app's credentials${code ? ` (${code})` : ''}: ${description}. Check DYNAMICS_TENANT_ID, DYNAMICS_CLIENT_ID and DYNAMICS_CLIENT_SECRET`,
  });
}

/** What the failed request itself asked for, where that changes what its answer means. */
export interface DynamicsCallContext {
  /** A 401 came back even with a freshly issued token. */
  afterRefresh?: boolean;
  /**
   * The request carried `If-Match` with a row's own ETag (`W/"<version>"`). Only then does 412 mean "the row
   * changed since it was read", which a new attempt (reading it again) resolves
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api).
   */
  sentEtag?: boolean;
}

/**
 * The one place that turns anything the Dataverse call path throws into a retryable or non-retryable
 * VendorError. "Already done" (404 on delete or PATCH) is detected by `isAlreadyGone` and returned by the
 * connector, not thrown.
 */
export function classifyDynamicsError(
  operation: ConnectorOperation,
  error: unknown,
  { afterRefresh = false, sentEtag = false }: DynamicsCallContext = {},
): VendorError {
  if (error instanceof RetryableVendorError || error instanceof NonRetryableVendorError) return error;
  if (error instanceof DynamicsTransportFailure) {
    if (error.stage === 'token') return classifyTokenFailure(operation, error.original);
    const original = error.original as { name?: string };
    if (original?.name === 'TimeoutError') {
      return new RetryableVendorError({
        system,
        operation,
        reason: `Dataverse did not answer within ${error.timeoutMs} ms (DYNAMICS_TIMEOUT_MS)`,
      });
    }
    if (isTransientNetworkError(original) || original instanceof TypeError) {
      return new RetryableVendorError({
        system,
        operation,
        reason: `Dataverse could not be reached: ${readable(networkDetail(original))}`,
      });
    }
    return new NonRetryableVendorError({
      system,
      operation,
      reason: `the request could not be sent: ${readable(String(original))}`,
    });
  }
  if (error instanceof GraphError) {
    const status = error.statusCode > 0 ? error.statusCode : undefined;
    const code = typeof error.code === 'string' ? error.code : undefined;
    const message = readable(error.message);
    const retryAfterMs = parseRetryAfter(headerValue(error.headers, 'retry-after'));
    if (status === undefined) {
      // Reading the answer failed (a timeout while the body streamed, say): nothing was decided.
      const transient = code === 'TimeoutError' || code === 'AbortError' || isTransientNetworkError(error);
      return transient
        ? new RetryableVendorError({
            system,
            operation,
            reason: `the Dataverse answer was cut off: ${message}`,
          })
        : new NonRetryableVendorError({
            system,
            operation,
            vendorCode: code,
            reason: `unexpected failure: ${message}`,
          });
    }
    const fields = { system, operation, status, vendorCode: code } as const;
    if (status === 429) {
      return new RetryableVendorError({
        ...fields,
        retryAfterMs,
        reason: `Dataverse service protection limit hit: ${message}`,
      });
    }
    if (status === 412) {
      // With `If-Match: *` or no condition at all, no version was asked for: a 412 then is a duplicate key
      // or a refusal that a retry meets again, never a race a new read resolves.
      return sentEtag
        ? new RetryableVendorError({
            ...fields,
            reason: `the row changed after it was read (its ETag is no longer current); the next attempt reads it again: ${message}`,
          })
        : new NonRetryableVendorError({
            ...fields,
            reason: `Dataverse refused the request with 412 Precondition Failed although no row version was asked for: ${message}`,
          });
    }
    if (status >= 500 || status === 408) {
      return new RetryableVendorError({
        ...fields,
        retryAfterMs,
        reason: `Dataverse is unavailable or busy: ${message}`,
      });
    }
    if (status === 401) {
      return new NonRetryableVendorError({
        ...fields,
        reason: afterRefresh
          ? 'Dataverse refused a freshly issued token: the app registration has no application user in this org, or the token is for another org (check DYNAMICS_URL)'
          : `Dataverse refused the token: ${message}`,
      });
    }
    if (status === 403) {
      return new NonRetryableVendorError({
        ...fields,
        reason: privilegeReason(error.message) ?? `Dataverse denied access: ${message}`,
      });
    }
    return new NonRetryableVendorError({ ...fields, reason: `Dataverse rejected the request: ${message}` });
  }
  if (isTransientNetworkError(error)) {
    return new RetryableVendorError({ system, operation, reason: 'Dataverse could not be reached' });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new NonRetryableVendorError({
    system,
    operation,
    reason: `unexpected failure: ${readable(message)}`,
  });
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (headers && typeof (headers as Headers).get === 'function')
    return (headers as Headers).get(name) ?? undefined;
  return undefined;
}

function networkDetail(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current && depth < 4; depth++) {
    const candidate = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof candidate.code === 'string') parts.push(candidate.code);
    else if (typeof candidate.message === 'string') parts.push(candidate.message);
    current = candidate.cause;
  }
  return parts.join(': ') || 'connection failed';
}

/** One response inside a `$batch` answer: its status, headers (lower-case names) and body. */
export interface DataverseBatchPart {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * What one response inside a `$batch` answer means for the row it wrote, classified here with the same
 * rules as a call of its own: 2xx applied; 404 on a PATCH with `If-Match: *` is "the row is not there"
 * (update-delete-entities-using-web-api); anything else (412, 429 with its Retry-After, 5xx, 403 ...) is
 * the VendorError `classifyDynamicsError` makes of the same status and error body.
 */
export function classifyDataverseBatchPart(
  operation: ConnectorOperation,
  part: DataverseBatchPart,
): 'applied' | 'not_found' | VendorError {
  if (part.status >= 200 && part.status < 300) return 'applied';
  if (part.status === 404) return 'not_found';
  let code: string | undefined;
  let message = `HTTP ${part.status}`;
  try {
    const parsed = JSON.parse(part.body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string') code = parsed.error.code;
    if (typeof parsed.error?.message === 'string') message = parsed.error.message;
  } catch {
    // Not JSON: the status alone decides.
  }
  const error = new GraphError(part.status, message);
  error.code = code ?? null;
  error.headers = new Headers(part.headers);
  return classifyDynamicsError(operation, error);
}
