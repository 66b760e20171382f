import type { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import proto from '@temporalio/proto';
import { projectSearchAttributes } from './search-attributes.js';

// @temporalio/proto is CommonJS: under Node's ESM loader only its default export is visible.
const { temporal } = proto;
const indexed = temporal.api.enums.v1.IndexedValueType;
const indexedTypes: Record<string, number> = {
  [SearchAttributeType.KEYWORD]: indexed.INDEXED_VALUE_TYPE_KEYWORD,
  [SearchAttributeType.DATETIME]: indexed.INDEXED_VALUE_TYPE_DATETIME,
  [SearchAttributeType.TEXT]: indexed.INDEXED_VALUE_TYPE_TEXT,
  [SearchAttributeType.INT]: indexed.INDEXED_VALUE_TYPE_INT,
  [SearchAttributeType.DOUBLE]: indexed.INDEXED_VALUE_TYPE_DOUBLE,
  [SearchAttributeType.BOOL]: indexed.INDEXED_VALUE_TYPE_BOOL,
  [SearchAttributeType.KEYWORD_LIST]: indexed.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/**
 * Registers the project's search attributes that the namespace lacks. `temporal server start-dev
 * --search-attribute` only registers them when it creates its database, so a dev database made by an older
 * version of the project would otherwise miss newer attributes.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = projectSearchAttributes.filter((key) => !known.has(key.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedTypes[key.type] as number])),
  });
  return missing.map((key) => key.name);
}
