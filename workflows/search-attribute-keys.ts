import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The HMAC subject key: the only person identifier allowed in workflow ids and search attributes. */
export const subjectKeyAttribute = defineSearchAttributeKey('SubjectKey', SearchAttributeType.KEYWORD);
/** running | needs_attention | completed, for `consent-hub erasures --status`. */
export const erasureStatusAttribute = defineSearchAttributeKey('ErasureStatus', SearchAttributeType.KEYWORD);
/** running | needs_attention | idle, for consent workflows. */
export const consentStatusAttribute = defineSearchAttributeKey('ConsentStatus', SearchAttributeType.KEYWORD);
