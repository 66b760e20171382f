import { z } from 'zod';
import { normaliseEmail } from '../../domain/email.js';
import type { BulkConsentWrite, BulkVerdict, BulkWriteOutcome } from '../connector.js';
import { type BulkWriteFailure, bulkFailure } from '../connector.js';
import type { ConnectorOperation } from '../connector-errors.js';
import { NonRetryableVendorError } from '../connector-errors.js';
import { classifyMailchimpBatchMemberError } from './errors.js';
import type { MailchimpApi } from './mailchimp-sdk.js';
import { subscriberHash } from './subscriber-hash.js';

/** "Up to 500 members may be added or updated with each API call" (batch subscribe or unsubscribe). */
export const mailchimpBatchLimit = 500;

/** The parts of the batch answer the connector reads; members by subscriber hash only, never the address. */
const batchAnswerSchema = z.object({
  new_members: z.array(z.object({ id: z.string() }).loose()).default([]),
  updated_members: z.array(z.object({ id: z.string() }).loose()).default([]),
  errors: z
    .array(
      z
        .object({
          email_address: z.string().default(''),
          error: z.string().optional(),
          error_code: z.string().optional(),
        })
        .loose(),
    )
    .default([]),
});

export interface MailchimpBatchDeps {
  api: MailchimpApi;
  /** Throws a named error when the audience does not exist (a 404 there is never "member not found"). */
  requireAudience(operation: ConnectorOperation, audienceId: string): Promise<void>;
  /** One SDK call whose failure becomes a VendorError and whose answer is checked. */
  call<S extends z.ZodType>(
    operation: ConnectorOperation,
    run: () => Promise<unknown>,
    schema: S,
    audienceId?: string,
  ): Promise<z.output<S>>;
}

/** The audience an opt-out write unsubscribes from: its only field must be `membership:<audience>` = `unsubscribed`. */
function audienceOf(write: BulkConsentWrite): string | BulkWriteFailure {
  const entries = Object.entries(write.fields);
  const [field, value] = entries[0] ?? [];
  const audience = /^membership:(.+)$/.exec(field ?? '')?.[1];
  if (
    entries.length !== 1 ||
    !audience ||
    value !== 'unsubscribed' ||
    (write.record.container ?? audience) !== audience
  ) {
    return bulkFailure(
      new NonRetryableVendorError({
        system: 'mailchimp',
        operation: 'applyConsent',
        reason:
          'a Mailchimp bulk write sets one audience membership to unsubscribed; grants and marketing permissions go through the per-person path',
      }),
    );
  }
  return audience;
}

/**
 * Unsubscribes many members with batch subscribe or unsubscribe
 * (https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/): per audience, one
 * `POST /lists/{id}` for each 500 members with `update_existing: true`, each member as
 * `{email_address, status: "unsubscribed"}`. The answer is matched back by subscriber hash (Mailchimp's
 * `id`, the MD5 of the lower-cased address sent; an error entry's `email_address` is hashed the same way):
 * `updated_members` → applied; `new_members` → applied and created (Mailchimp had no member with that
 * address and added one, unsubscribed: callers send only members they read from the audience); `errors[]` →
 * classified in errors.ts; a member the answer does not mention → a non-retryable failure, never "done".
 * A person written twice in one audience is sent once and both writes get its outcome.
 */
export async function writeMailchimpConsentBatch(
  deps: MailchimpBatchDeps,
  writes: BulkConsentWrite[],
): Promise<BulkWriteOutcome[]> {
  const outcomes: (BulkWriteOutcome | undefined)[] = writes.map(() => undefined);
  /** audience → subscriber hash → the indexes of the writes for that member, and the address to send. */
  const byAudience = new Map<string, Map<string, { address: string; indexes: number[] }>>();
  writes.forEach((write, index) => {
    const audience = audienceOf(write);
    if (typeof audience !== 'string') {
      outcomes[index] = { key: write.key, record: write.record, outcome: 'failure', error: audience };
      return;
    }
    const address = normaliseEmail(write.email);
    const members = byAudience.get(audience) ?? new Map();
    const hash = subscriberHash(address);
    const entry = members.get(hash) ?? { address, indexes: [] };
    entry.indexes.push(index);
    members.set(hash, entry);
    byAudience.set(audience, members);
  });

  for (const [audience, members] of byAudience) {
    await deps.requireAudience('applyConsent', audience);
    const all = [...members];
    for (let start = 0; start < all.length; start += mailchimpBatchLimit) {
      const chunk = all.slice(start, start + mailchimpBatchLimit);
      const answer = await deps.call(
        'applyConsent',
        () =>
          deps.api.batchListMembers(
            audience,
            {
              members: chunk.map(([, m]) => ({ email_address: m.address, status: 'unsubscribed' })),
              update_existing: true,
            },
            { skipDuplicateCheck: true },
          ),
        batchAnswerSchema,
        audience,
      );
      const seen = new Map<string, BulkVerdict>();
      for (const member of answer.updated_members) seen.set(member.id, { outcome: 'applied' });
      for (const member of answer.new_members) seen.set(member.id, { outcome: 'applied', created: true });
      for (const entry of answer.errors) {
        const verdict = classifyMailchimpBatchMemberError(entry, audience);
        seen.set(
          subscriberHash(entry.email_address),
          verdict === 'not_found'
            ? { outcome: 'not_found' }
            : { outcome: 'failure', error: bulkFailure(verdict) },
        );
      }
      for (const [hash, member] of chunk) {
        const result =
          seen.get(hash) ??
          ({
            outcome: 'failure',
            error: bulkFailure(
              new NonRetryableVendorError({
                system: 'mailchimp',
                operation: 'applyConsent',
                reason: `Mailchimp's batch answer in audience ${audience} did not mention one of the members sent`,
              }),
            ),
          } satisfies BulkVerdict);
        for (const index of member.indexes) {
          const write = writes[index] as BulkConsentWrite;
          outcomes[index] = { key: write.key, record: write.record, ...result };
        }
      }
    }
  }
  return outcomes.map((outcome) => outcome as BulkWriteOutcome);
}
