import {
  consentStatusAttribute,
  erasureStatusAttribute,
  subjectKeyAttribute,
} from '../workflows/search-attribute-keys.js';

export { consentStatusAttribute, erasureStatusAttribute, subjectKeyAttribute };

/** Every custom search attribute the project uses; the dev server and the test server register these. */
export const projectSearchAttributes = [subjectKeyAttribute, erasureStatusAttribute, consentStatusAttribute];

/** `temporal server start-dev --search-attribute` arguments for the same list. */
export function searchAttributeArgs(): string[] {
  return projectSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}
