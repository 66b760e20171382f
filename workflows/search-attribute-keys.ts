import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The HMAC subject key: the only person identifier allowed in workflow ids and search attributes. */
export const subjectKeyAttribute = defineSearchAttributeKey('SubjectKey', SearchAttributeType.KEYWORD);
/** running | needs_attention | completed, for `consent-hub erasures --status`. */
export const erasureStatusAttribute = defineSearchAttributeKey('ErasureStatus', SearchAttributeType.KEYWORD);
/** running | needs_attention | idle, for consent workflows. */
export const consentStatusAttribute = defineSearchAttributeKey('ConsentStatus', SearchAttributeType.KEYWORD);
/**
 * When a person's request must be answered (GDPR Art. 12(3), domain/request-deadline.ts), moved by an
 * extension: `DueAt < '<now>' AND ExecutionStatus = 'Running'` finds overdue requests in Temporal.
 */
export const dueAtAttribute = defineSearchAttributeKey('DueAt', SearchAttributeType.DATETIME);
/** erasure | access | rectification | ...: lists a person's requests across workflow types. */
export const requestKindAttribute = defineSearchAttributeKey('RequestKind', SearchAttributeType.KEYWORD);
