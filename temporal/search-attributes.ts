import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** The HMAC subject key: the only person identifier allowed in workflow ids and search attributes. */
export const subjectKeyAttribute = defineSearchAttributeKey('SubjectKey', SearchAttributeType.KEYWORD);
/** running | needs_attention | completed, for `consent-hub erasures --status`. */
export const erasureStatusAttribute = defineSearchAttributeKey('ErasureStatus', SearchAttributeType.KEYWORD);

/** Every custom search attribute the project uses; the dev server and the test server register these. */
export const projectSearchAttributes = [subjectKeyAttribute, erasureStatusAttribute];

/** `temporal server start-dev --search-attribute` arguments for the same list. */
export function searchAttributeArgs(): string[] {
  return projectSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}
