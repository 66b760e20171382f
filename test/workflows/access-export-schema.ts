import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { packageRoot } from '../../config/package-paths.js';

/** The published schemas of the portable copy, as a reader outside the hub would load them, by version. */
export const accessExportSchemaFiles = {
  'access-export/v1': `${packageRoot}/docs/schemas/access-export-v1.json`,
  'access-export/v2': `${packageRoot}/docs/schemas/access-export-v2.json`,
} as const;
/** The version the hub writes now. */
export const accessExportSchemaFile = accessExportSchemaFiles['access-export/v2'];

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validators = Object.fromEntries(
  Object.entries(accessExportSchemaFiles).map(([version, file]) => [
    version,
    ajv.compile(JSON.parse(readFileSync(file, 'utf8'))),
  ]),
);

/**
 * Every way `document` breaks the published JSON Schema of the version it names in `schema` (ajv, draft
 * 2020-12); empty when it is valid. A document naming no published version is reported as such.
 */
export function validateAccessExport(document: unknown): string[] {
  const version = (document as { schema?: unknown } | null)?.schema;
  const validate = typeof version === 'string' ? validators[version] : undefined;
  if (!validate) return [`(root) names no published schema version: ${String(version)}`];
  if (validate(document)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`);
}
