import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { packageRoot } from '../../config/package-paths.js';

/** The published schema of the portable copy, as a reader outside the hub would load it. */
export const accessExportSchemaFile = `${packageRoot}/docs/schemas/access-export-v1.json`;

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(accessExportSchemaFile, 'utf8')));

/** Every way `document` breaks the published JSON Schema (ajv, draft 2020-12); empty when it is valid. */
export function validateAccessExport(document: unknown): string[] {
  if (validate(document)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`);
}
