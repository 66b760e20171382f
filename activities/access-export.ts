import type { AccessCategories } from '../config/access-categories.js';
import { categoryOf } from '../config/access-categories.js';
import type { AccessField, AccessHoldings } from '../connectors/connector.js';
import type { AccessSource } from '../domain/access.js';

/**
 * The published JSON Schema of the portable copy (docs/schemas/access-export-v2.json). v2 added the ledger's
 * legal holds, restrictions, rectifications, moved records and earlier access requests, and `fields[].keyed`;
 * exports written before it stay as they were, valid against docs/schemas/access-export-v1.json.
 */
export const accessExportSchemaId =
  'https://github.com/consent-hub/consent-hub/docs/schemas/access-export-v2.json';
export const accessExportSchemaVersion = 'access-export/v2';

export interface AccessExportSource {
  system: AccessSource;
  /** `collected`, or why the system is missing from the copy (`failed`, `closed_by_operator`, `not_configured`). */
  status: string;
  recordCount: number;
  reason?: string;
}

export interface AccessExportRecord {
  source: { system: AccessSource; kind: string; id: string; container?: string };
  /** The category's id in `categories`, or null when the configuration names none for this kind. */
  category: string | null;
  regarding?: { kind: string; id: string };
  fields: AccessField[];
}

/** The portable copy (GDPR Art. 15(3) and 20): one JSON document, versioned by `schema`. */
export interface AccessExportDocument {
  $schema: string;
  schema: typeof accessExportSchemaVersion;
  requestId: string;
  subjectKey: string;
  requestedAt: string;
  generatedAt: string;
  controller: string;
  privacyNotice: string;
  subject: { email: string };
  sources: AccessExportSource[];
  categories: (AccessCategories['categories'][number] & { systems: AccessSource[] })[];
  records: AccessExportRecord[];
  statements: { system: AccessSource; topic: string; text: string }[];
}

export interface AccessExportInput {
  requestId: string;
  subjectKey: string;
  requestedAt: string;
  email: string;
  generatedAt: string;
  categories: AccessCategories;
  parts: { system: AccessSource; status: string; reason?: string; holdings?: AccessHoldings }[];
}

/** Puts each system's holdings together, each record with its source system and category. */
export function buildAccessExport(input: AccessExportInput): AccessExportDocument {
  const records: AccessExportRecord[] = [];
  const statements: AccessExportDocument['statements'] = [];
  const sources: AccessExportSource[] = [];
  for (const part of input.parts) {
    const held = part.holdings?.records ?? [];
    sources.push({
      system: part.system,
      status: part.status,
      recordCount: held.length,
      ...(part.reason ? { reason: part.reason } : {}),
    });
    for (const record of held) {
      records.push({
        source: {
          system: part.system,
          kind: record.kind,
          id: record.id,
          ...(record.container ? { container: record.container } : {}),
        },
        category: categoryOf(input.categories, part.system, record.kind)?.id ?? null,
        ...(record.regarding ? { regarding: record.regarding } : {}),
        fields: record.fields,
      });
    }
    for (const statement of part.holdings?.statements ?? [])
      statements.push({ system: part.system, ...statement });
  }
  const categories = input.categories.categories.map((category) => ({
    ...category,
    systems: [...new Set(category.sources.map((s) => s.system))],
  }));
  return {
    $schema: accessExportSchemaId,
    schema: accessExportSchemaVersion,
    requestId: input.requestId,
    subjectKey: input.subjectKey,
    requestedAt: input.requestedAt,
    generatedAt: input.generatedAt,
    controller: input.categories.controller,
    privacyNotice: input.categories.privacyNotice,
    subject: { email: input.email },
    sources,
    categories,
    records,
    statements,
  };
}

/** Per source system, records by kind: what the workflow and the receipt keep instead of the data. */
export function countsOf(
  document: AccessExportDocument,
): Partial<Record<AccessSource, Record<string, number>>> {
  const counts: Partial<Record<AccessSource, Record<string, number>>> = {};
  for (const source of document.sources) counts[source.system] ??= {};
  for (const record of document.records) {
    const bySystem = counts[record.source.system] ?? {};
    bySystem[record.source.kind] = (bySystem[record.source.kind] ?? 0) + 1;
    counts[record.source.system] = bySystem;
  }
  return counts;
}

const systemNames: Record<AccessSource, string> = {
  dynamics: 'Microsoft Dynamics 365 (CRM)',
  mailchimp: 'Intuit Mailchimp',
  google: 'Google Analytics',
  ledger: "consent-hub's own ledger",
};

function html(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return (text ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/**
 * The human-readable report of the same document: per category what it is for, on which legal basis, who
 * receives it, how long it is kept, where it came from and which systems hold it, then the records
 * themselves with each field's display name. Every value is HTML-escaped.
 */
export function renderAccessReport(document: AccessExportDocument): string {
  const out: string[] = [];
  out.push(
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>Your personal data</title>',
    '<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}',
    'table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}',
    'th{background:#f3f3f3}.source{color:#555;font-size:.9em}</style></head><body>',
    '<h1>Your personal data</h1>',
    `<p>What ${html(document.controller)} holds about <strong>${html(document.subject.email)}</strong>, why, on which legal basis, and where it came from (GDPR Art. 15). The attached JSON file is the same data in a portable, machine-readable form (Art. 20).</p>`,
    `<p class="source">Request ${html(document.requestId)}, received ${html(document.requestedAt)}, compiled ${html(document.generatedAt)}. Privacy notice: ${html(document.privacyNotice)}.</p>`,
    '<h2>Systems searched</h2><table><tr><th>System</th><th>Result</th><th>Records</th></tr>',
  );
  for (const source of document.sources) {
    out.push(
      `<tr><td>${html(systemNames[source.system])}</td><td>${html(source.status)}${source.reason ? `: ${html(source.reason)}` : ''}</td><td>${source.recordCount}</td></tr>`,
    );
  }
  out.push('</table>');

  const categoryIds = new Set(document.categories.map((c) => c.id));
  for (const category of document.categories) {
    const records = document.records.filter((r) => r.category === category.id);
    out.push(
      `<section id="${html(category.id)}"><h2>${html(category.title)}</h2>`,
      '<table>',
      `<tr><th>Purposes</th><td><ul>${category.purposes.map((p) => `<li>${html(p)}</li>`).join('')}</ul></td></tr>`,
      `<tr><th>Legal basis</th><td>${html(category.legalBasis)}</td></tr>`,
      `<tr><th>Recipients</th><td>${html(category.recipients.join('; ') || 'none')}</td></tr>`,
      `<tr><th>Retention</th><td>${html(category.retention)}</td></tr>`,
      `<tr><th>Where it came from</th><td>${html(category.origin)}</td></tr>`,
      `<tr><th>Source systems</th><td>${category.systems.map((s) => html(systemNames[s])).join('; ')}</td></tr>`,
      `<tr><th>Records held</th><td>${records.length}</td></tr>`,
      '</table>',
    );
    for (const record of records) out.push(recordTable(record));
    out.push('</section>');
  }
  const other = document.records.filter((r) => r.category === null || !categoryIds.has(r.category));
  if (other.length > 0) {
    out.push('<section id="other"><h2>Other records</h2>');
    for (const record of other) out.push(recordTable(record));
    out.push('</section>');
  }
  if (document.statements.length > 0) {
    out.push('<h2>Notes about the systems</h2><ul>');
    for (const s of document.statements)
      out.push(
        `<li><strong>${html(systemNames[s.system])}</strong> (${html(s.topic)}): ${html(s.text)}</li>`,
      );
    out.push('</ul>');
  }
  out.push('</body></html>', '');
  return out.join('\n');
}

function recordTable(record: AccessExportRecord): string {
  const { system, kind, id, container } = record.source;
  const where = `${html(systemNames[system])}, ${html(kind)} ${html(id)}${container ? ` in ${html(container)}` : ''}`;
  const about = record.regarding
    ? `, regarding ${html(record.regarding.kind)} ${html(record.regarding.id)}`
    : '';
  const rows = record.fields
    .map(
      (f) =>
        `<tr><td>${html(f.label ?? f.name)}</td><td class="source">${html(f.name)}</td><td>${f.value === null || f.value === undefined ? '' : html(f.value)}${f.keyed ? ' <span class="source">(keyed reference)</span>' : ''}</td></tr>`,
    )
    .join('');
  return `<p class="source">Source: ${where}${about}</p><table><tr><th>Field</th><th>Name in the system</th><th>Value</th></tr>${rows}</table>`;
}
