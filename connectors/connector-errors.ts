import type { SystemName } from '../domain/systems.js';

export type ConnectorOperation =
  | 'find'
  | 'erase'
  | 'readConsent'
  | 'applyConsent'
  | 'authenticate'
  | 'list'
  | 'restrict'
  | 'rectify'
  /** Reading everything held about a person, for an access request (GDPR Art. 15). */
  | 'access';

/** A submission a vendor accepted (a record as the connector's answers name it), with the vendor's time. */
export interface AcceptedSubmission {
  kind: string;
  id: string;
  container?: string;
  result: 'submitted';
  vendorTime?: string;
}

interface VendorErrorFields {
  system: SystemName | 'noop';
  operation: ConnectorOperation;
  /** The vendor's HTTP status, when there was an answer at all. */
  status?: number;
  /** The vendor's own error code (`0x80040220`, `invalid_client`, `dailyLimitExceeded`, ...). */
  vendorCode?: string;
  /** A sentence a privacy or operations person can act on. Never contains an email or a name. */
  reason: string;
}

/**
 * A vendor call that failed. Each connector turns every failure into one of the two subclasses in one
 * place (its `errors.ts`), so that activities and operators see the same three outcomes everywhere:
 * retryable, non-retryable, or (returned, not thrown) already done.
 */
export abstract class VendorError extends Error {
  readonly system: VendorErrorFields['system'];
  readonly operation: ConnectorOperation;
  readonly status?: number;
  readonly vendorCode?: string;
  readonly reason: string;
  abstract readonly retryable: boolean;
  /**
   * Submissions the vendor accepted in the failing call before this failure (Google's user deletions sent in
   * parallel, some answered before a 429): each is done, so the caller records it and never sends it again.
   * Never serialised: the ids are personal data.
   */
  accepted?: AcceptedSubmission[];
  /**
   * How many submissions the failing activity attempt got accepted before this failure (set by the
   * activity): a quota wait after progress is the next day's wait, not a quota still exhausted. A count only.
   */
  progress?: number;
  /**
   * How many submissions of the step the vendor has accepted in all, counting every earlier attempt, round and
   * day (set by the activity from the ledger): a quota wait whose total grew since the last wait made
   * progress, even when the attempt that met the quota got nothing accepted itself (an earlier attempt of
   * the same round got some accepted, then a 503). A count only.
   */
  submittedTotal?: number;

  constructor(fields: VendorErrorFields) {
    super(
      `${fields.system} ${fields.operation} failed${fields.status ? ` (HTTP ${fields.status})` : ''}: ${fields.reason}`,
    );
    this.system = fields.system;
    this.operation = fields.operation;
    this.status = fields.status;
    this.vendorCode = fields.vendorCode;
    this.reason = fields.reason;
  }

  toJSON(): VendorErrorFields & { retryable: boolean; progress?: number; submittedTotal?: number } {
    return {
      system: this.system,
      operation: this.operation,
      status: this.status,
      vendorCode: this.vendorCode,
      reason: this.reason,
      retryable: this.retryable,
      ...(this.progress !== undefined ? { progress: this.progress } : {}),
      ...(this.submittedTotal !== undefined ? { submittedTotal: this.submittedTotal } : {}),
    };
  }
}

/** Trying again later can succeed: 429, 5xx, timeouts, connection failures. */
export class RetryableVendorError extends VendorError {
  override readonly name = 'RetryableVendorError';
  readonly retryable = true;
  /** The vendor's `Retry-After`, when it sent one; the next attempt waits this long. */
  readonly retryAfterMs?: number;

  constructor(fields: VendorErrorFields & { retryAfterMs?: number }) {
    super(fields);
    this.retryAfterMs = fields.retryAfterMs;
  }
}

/** Retrying cannot help until a person changes something: bad credentials, missing privilege, bad input. */
export class NonRetryableVendorError extends VendorError {
  override readonly name = 'NonRetryableVendorError';
  readonly retryable = false;
}

/** `Retry-After` is either delta-seconds or an HTTP date; answers milliseconds, or undefined if absent. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Node's network error codes that mean "the vendor could not be reached or did not answer in time". */
const transientNetworkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ECONNABORTED',
]);

/** True for errors (or their causes) that are network failures or timeouts rather than vendor answers. */
export function isTransientNetworkError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const candidate = current as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof candidate.code === 'string' && transientNetworkCodes.has(candidate.code)) return true;
    if (candidate.name === 'AbortError' || candidate.name === 'TimeoutError') return true;
    current = candidate.cause;
  }
  return false;
}
