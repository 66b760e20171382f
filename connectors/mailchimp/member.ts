import { z } from 'zod';
import type { VendorRecordRef } from '../connector.js';

/** The parts of a Mailchimp member the connector reads. Never the address or merge fields. */
export const memberSchema = z
  .object({
    id: z.string(),
    status: z.string(),
    list_id: z.string(),
    last_changed: z.string().optional(),
    /**
     * Mailchimp's id of the contact behind the member: random, not derived from the address, and unchanged
     * when the address changes (the member path accepts it in place of the subscriber hash, vendor-apis.md).
     */
    contact_id: z.string().optional(),
    marketing_permissions: z
      .array(z.object({ marketing_permission_id: z.string(), enabled: z.boolean().optional() }).loose())
      .optional()
      .default([]),
    /** Tag names only (a restriction looks for its own tag); absent in partial answers. */
    tags: z
      .array(z.object({ name: z.string() }).loose())
      .optional()
      .default([]),
  })
  .loose()
  .transform(({ id, status, list_id, last_changed, contact_id, marketing_permissions, tags }) => ({
    id,
    status,
    list_id,
    last_changed,
    ...(contact_id ? { contactId: contact_id } : {}),
    marketing_permissions,
    tagNames: tags.map((tag) => tag.name),
  }));
export type MailchimpMember = z.output<typeof memberSchema>;

export const listsPageSchema = z.object({
  lists: z.array(z.object({ id: z.string() }).loose()),
  total_items: z.number(),
});

export function memberRef(member: MailchimpMember): VendorRecordRef {
  return {
    kind: 'member',
    id: member.id,
    container: member.list_id,
    status: member.status,
    modifiedAt: member.last_changed,
  };
}
