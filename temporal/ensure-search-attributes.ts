import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { projectSearchAttributes } from './search-attributes.js';

// @temporalio/proto is CommonJS: under Node's ESM loader only its default export is visible.
const { temporal } = proto;

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
    searchAttributes: Object.fromEntries(
      missing.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
  return missing.map((key) => key.name);
}
