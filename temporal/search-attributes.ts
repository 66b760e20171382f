import { TypedSearchAttributes } from '@temporalio/common';
import {
  consentStatusAttribute,
  dueAtAttribute,
  erasureStatusAttribute,
  requestKindAttribute,
  subjectKeyAttribute,
} from '../workflows/search-attribute-keys.js';

export {
  consentStatusAttribute,
  dueAtAttribute,
  erasureStatusAttribute,
  requestKindAttribute,
  subjectKeyAttribute,
};

/** Every custom search attribute the project uses; the dev server and the test server register these. */
export const projectSearchAttributes = [
  subjectKeyAttribute,
  erasureStatusAttribute,
  consentStatusAttribute,
  dueAtAttribute,
  requestKindAttribute,
];

/** `temporal server start-dev --search-attribute <name>=<type>` arguments for the same list (Keyword, Datetime). */
export function searchAttributeArgs(): string[] {
  return projectSearchAttributes.flatMap((key) => [
    '--search-attribute',
    `${key.name}=${TypedSearchAttributes.toMetadataType(key.type)}`,
  ]);
}
