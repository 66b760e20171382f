import { z } from 'zod';
import type { VendorRecordRef } from '../connector.js';

/** The parts of a Mailchimp member the connector reads. Never the address or merge fields. */
export const memberSchema = z
  .object({
    id: z.string(),
    status: z.string(),
    list_id: z.string(),
    last_changed: z.string().optional(),
    marketing_permissions: z
      .array(z.object({ marketing_permission_id: z.string(), enabled: z.boolean().optional() }).loose())
      .optional()
      .default([]),
  })
  .loose()
  .transform(({ id, status, list_id, last_changed, marketing_permissions }) => ({
    id,
    status,
    list_id,
    last_changed,
    marketing_permissions,
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
