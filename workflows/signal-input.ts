import type { ErasureMerge } from '../domain/erasure.js';
import { erasureReasonCodes } from '../domain/erasure-reason-codes.js';
import {
  type HoldReasonCode,
  holdReasonCodes,
  type ReleaseReasonCode,
  releaseReasonCodes,
} from '../domain/hold-codes.js';
import { isActorId } from '../domain/operator-id.js';

/**
 * Signals cannot be refused (a validator exists for updates only), and one sent straight to Temporal (`temporal
 * workflow signal`, another SDK's client) skips the hub's client and its schemas: its fields are whatever was
 * typed. The fields an erasure keeps in its receipt (a joined request's reason, requester and times; a
 * release's operator and code) are held here to the shapes the hub's client sends, so a name or an address
 * typed into one never reaches the receipt or the ledger, where no shred reaches it. Pure and deterministic.
 */

/** What a requester or operator that is no id is recorded as (as an update's missing operator is). */
export const unnamedActor = 'unknown';

/** An instant as the hub's clients send it: ISO 8601 in UTC or with an offset. */
const isoInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `value` when it is an ISO 8601 instant, else `fallback` (the workflow's time of receipt). */
export function instantOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && isoInstant.test(value) ? value : fallback;
}

/** `value` trimmed when it is an operator or system id (domain/operator-id.ts), else `unknown`. */
export function actorOrUnnamed(value: unknown): string {
  return isActorId(value) ? value.trim() : unnamedActor;
}

/**
 * A merge signal's request as the erasure keeps it: a reason that is no code becomes `other` (its words are
 * not kept: no code was given, and a note goes in `reasonNote`, which the erasure redacts of the CRM's names
 * or withholds), a requester that is no id `unknown`, times that are no instants the time it arrived; ids and
 * the rest as sent; a note sent past the hub's codec (`pastCodec`) is dropped. `now` is the workflow's time (ISO).
 */
export function checkedMerge(merge: ErasureMerge, now: string, pastCodec = false): ErasureMerge {
  const reason = (erasureReasonCodes as readonly string[]).includes(merge.reason) ? merge.reason : 'other';
  const { reasonNote, ...rest } = merge;
  return {
    ...rest,
    gaClientIds: Array.isArray(merge.gaClientIds)
      ? merge.gaClientIds.filter((id) => typeof id === 'string')
      : [],
    gaUserIds: Array.isArray(merge.gaUserIds) ? merge.gaUserIds.filter((id) => typeof id === 'string') : [],
    reason,
    // Words sent past the hub's codec are in the history in clear already; none of them goes further.
    ...(typeof reasonNote === 'string' && !pastCodec ? { reasonNote } : {}),
    requestedBy: actorOrUnnamed(merge.requestedBy),
    requestedAt: instantOr(merge.requestedAt, now),
    ...(merge.receivedAt === undefined ? {} : { receivedAt: instantOr(merge.receivedAt, now) }),
  };
}

/**
 * A release signal's code as kept: one of the release codes, else `fallback` (the hold is over either way;
 * the words sent are not kept).
 */
export function releaseCodeOr(value: unknown, fallback: ReleaseReasonCode): ReleaseReasonCode {
  return (releaseReasonCodes as readonly string[]).includes(value as string)
    ? (value as ReleaseReasonCode)
    : fallback;
}

/** Whether `value` is a hold reason code (a hold signal without one is no hold the hub placed). */
export function isHoldCode(value: unknown): value is HoldReasonCode {
  return (holdReasonCodes as readonly string[]).includes(value as string);
}

/** The mark privacy/payload-converter.cjs sets on a value whose payload was never encrypted. */
const sentUnencoded = Symbol.for('consent-hub.sent-unencoded');

/** Whether a signal's value came past the hub's codec (its payload was never encrypted). */
export function sentPastCodec(value: unknown): boolean {
  return (
    value !== null && typeof value === 'object' && (value as Record<symbol, unknown>)[sentUnencoded] === true
  );
}

const subjectKeyShape = /^[0-9a-f]{64}$/;

/**
 * Whether an address-change signal is one the hub's webhook sent: encoded with the hub's codec, a subject
 * key for the new address and an id for its source. One sent past the hub would make the erasure
 * search (and delete at) an address no vendor reported, and put its words into the receipt: it is ignored.
 */
export function isHubAddressChange(value: {
  source?: unknown;
  changedAt?: unknown;
  newSubjectKey?: unknown;
  newEmail?: unknown;
}): boolean {
  return (
    !sentPastCodec(value) &&
    typeof value.newEmail === 'string' &&
    typeof value.newSubjectKey === 'string' &&
    subjectKeyShape.test(value.newSubjectKey) &&
    isActorId(value.source)
  );
}
