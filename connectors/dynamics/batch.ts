import { randomUUID } from 'node:crypto';
import { type Client, GraphError, ResponseType } from '@microsoft/microsoft-graph-client';
import type { BulkConsentWrite, BulkVerdict, BulkWriteOutcome } from '../connector.js';
import { bulkFailure } from '../connector.js';
import type { ConnectorOperation } from '../connector-errors.js';
import { NonRetryableVendorError } from '../connector-errors.js';
import type { DynamicsConsentColumn } from './consent-columns.js';
import { classifyDataverseBatchPart, type DataverseBatchPart } from './errors.js';

const entitySets: Record<string, string> = { contact: 'contacts', lead: 'leads' };
const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DynamicsBatchDeps {
  client: Client;
  /** Sends under the connector's concurrency limit, renewing the token once on 401 (connector.ts). */
  call<T>(operation: ConnectorOperation, unlimited: () => Promise<T>): Promise<T>;
  columns: DynamicsConsentColumn[];
  batchSize: number;
}

/** The PATCH a write becomes, or why it cannot be one. */
function patchOf(write: BulkConsentWrite, columns: DynamicsConsentColumn[]) {
  const entitySet = entitySets[write.record.kind];
  const id = write.record.id ?? '';
  const known = new Set(columns.map((c) => c.column));
  const values: Record<string, boolean> = {};
  for (const [field, value] of Object.entries(write.fields)) {
    if (!known.has(field) || (value !== 'true' && value !== 'false')) return undefined;
    values[field] = value === 'true';
  }
  if (!entitySet || !guid.test(id) || Object.keys(values).length === 0) return undefined;
  return { path: `${entitySet}(${id})`, values };
}

/** One PATCH part of the batch: `If-Match: *` so that a row that is not there is a 404, never created. */
function patchPart(contentId: number, path: string, values: Record<string, boolean>): string {
  return [
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    `Content-ID: ${contentId}`,
    '',
    `PATCH /api/data/v9.2/${path} HTTP/1.1`,
    'Content-Type: application/json',
    'If-Match: *',
    '',
    JSON.stringify(values),
  ].join('\r\n');
}

/** The responses of a `multipart/mixed` batch answer in order, each with its Content-ID when it has one. */
export function parseBatchResponse(
  contentType: string,
  body: string,
): (DataverseBatchPart & { contentId?: string })[] {
  const boundary = /boundary="?([^";\s]+)"?/i.exec(contentType)?.[1];
  if (!boundary) return [];
  const end = body.indexOf(`--${boundary}--`);
  const parts = body
    .slice(0, end < 0 ? body.length : end)
    .split(`--${boundary}`)
    .slice(1);
  return parts.flatMap((raw) => {
    const part = raw.replace(/^\r?\n/, '');
    const [head = '', ...restParts] = part.split(/\r?\n\r?\n/);
    const nested = /boundary="?([^";\s]+)"?/i.exec(head);
    if (/^content-type:\s*multipart\/mixed/im.test(head) && nested) {
      return parseBatchResponse(`multipart/mixed; boundary=${nested[1]}`, restParts.join('\r\n\r\n'));
    }
    const contentId = /^content-id:\s*(\S+)/im.exec(head)?.[1];
    const [statusBlock = '', ...bodyParts] = restParts;
    const lines = statusBlock.split(/\r?\n/);
    const status = Number(/^HTTP\/1\.1\s+(\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return [{ status, headers, body: bodyParts.join('\r\n\r\n').trim(), contentId }];
  });
}

/**
 * Writes consent columns on many contacts and leads with `$batch`
 * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api):
 * batches of DYNAMICS_BATCH_SIZE PATCHes (`If-Match: *`, never creating), sent together under the connector's
 * concurrency limit, each with `Prefer: odata.continue-on-error` so one row's failure does not stop the rest,
 * and no change set, because the rows are independent and one person's failure must not roll back another's.
 * Each response is matched back by Content-ID and classified in errors.ts (`classifyDataverseBatchPart`):
 * applied, not_found (404), or a failure that says whether retrying can help (429 carries its Retry-After).
 * A batch refused as a whole (401 after renewal, 429 on the envelope, 5xx) throws a VendorError.
 */
export async function writeDynamicsConsentBatch(
  deps: DynamicsBatchDeps,
  writes: BulkConsentWrite[],
): Promise<BulkWriteOutcome[]> {
  const verdicts: BulkVerdict[] = writes.map(() => ({
    outcome: 'failure',
    error: bulkFailure(
      new NonRetryableVendorError({
        system: 'dynamics',
        operation: 'applyConsent',
        reason: "Dataverse's batch answer did not include this row's response",
      }),
    ),
  }));
  const sendable: { index: number; path: string; values: Record<string, boolean> }[] = [];
  writes.forEach((write, index) => {
    const patch = patchOf(write, deps.columns);
    if (patch) sendable.push({ index, ...patch });
    else
      verdicts[index] = {
        outcome: 'failure',
        error: bulkFailure(
          new NonRetryableVendorError({
            system: 'dynamics',
            operation: 'applyConsent',
            reason:
              'a Dataverse bulk write needs a contact or lead id and only the configured consent columns, as true or false',
          }),
        ),
      };
  });

  const chunks: (typeof sendable)[] = [];
  for (let start = 0; start < sendable.length; start += deps.batchSize)
    chunks.push(sendable.slice(start, start + deps.batchSize));

  await Promise.all(
    chunks.map(async (chunk) => {
      const boundary = `batch_${randomUUID()}`;
      const body = `${chunk
        .map((row, n) => `--${boundary}\r\n${patchPart(n + 1, row.path, row.values)}\r\n`)
        .join('')}--${boundary}--\r\n`;
      const parts = await deps.call('applyConsent', async () => {
        const response = (await deps.client
          .api('/$batch')
          .headers({
            'Content-Type': `multipart/mixed; boundary=${boundary}`,
            Prefer: 'odata.continue-on-error',
          })
          .responseType(ResponseType.RAW)
          .post(body)) as Response;
        const contentType = response.headers.get('content-type') ?? '';
        const text = await response.text();
        if (!contentType.startsWith('multipart/mixed')) {
          // The batch itself was refused: the same error a call of its own would get.
          const error = new GraphError(response.status, text.slice(0, 500));
          try {
            const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
            error.code = parsed.error?.code ?? null;
            if (parsed.error?.message) error.message = parsed.error.message;
          } catch {
            // Not JSON: the status decides.
          }
          error.headers = response.headers;
          throw error;
        }
        return parseBatchResponse(contentType, text);
      });
      parts.forEach((part, position) => {
        const n = part.contentId ? Number(part.contentId) - 1 : position;
        const row = chunk[n];
        if (!row) return;
        const verdict = classifyDataverseBatchPart('applyConsent', part);
        verdicts[row.index] =
          verdict === 'applied' || verdict === 'not_found'
            ? { outcome: verdict }
            : { outcome: 'failure', error: bulkFailure(verdict) };
      });
    }),
  );
  return writes.map((write, index) => ({
    key: write.key,
    record: write.record,
    ...(verdicts[index] as BulkVerdict),
  }));
}
