import { z } from 'zod';
import type { ConnectorOperation } from '../connector-errors.js';
import { mailboxKey } from './mailbox-match.js';
import { type MailchimpMember, memberSchema } from './member.js';

/**
 * Members a page of `GET /lists/{list_id}/members` can hold: Mailchimp caps `count` at 1000
 * (https://mailchimp.com/developer/marketing/docs/methods-parameters/#pagination;
 * https://mailchimp.com/developer/marketing/api/list-members/list-members-info/).
 */
export const membersPageLimit = 1000;

/**
 * Only what planning an opt-out reads (Mailchimp's partial responses, `fields` in dot notation): the member's
 * id (its subscriber hash), stored address (to match the person, never kept), status, GDPR permissions and
 * last change, and the page's `total_items`.
 */
export const listingFields = [
  'members.id',
  'members.email_address',
  'members.status',
  'members.last_changed',
  'members.marketing_permissions',
  'total_items',
];

const listingPageSchema = z.object({
  members: z.array(z.object({ email_address: z.string() }).loose()),
  total_items: z.number().int().min(0),
});

/** Calls of a listing of `members` members: pages of 1000, at least one. */
export function listingCalls(members: number): number {
  return Math.max(1, Math.ceil(members / membersPageLimit));
}

/**
 * Whether listing an audience of `members` members costs fewer calls than one `GET .../members/{hash}`
 * for each of `people` people.
 */
export function listingIsCheaper(members: number, people: number): boolean {
  return listingCalls(members) < people;
}

export interface AudienceListingDeps {
  /**
   * One `GET /lists/{id}/members?count&offset&fields` page (the caller maps a 404 of a known audience and
   * any other failure to the connector's errors).
   */
  page(audienceId: string, offset: number): Promise<unknown>;
  checked<S extends z.ZodType>(operation: ConnectorOperation, body: unknown, schema: S): z.output<S>;
}

/**
 * The audience's members (archived ones excepted: Mailchimp lists them only when asked for by status), keyed
 * by mailboxKey of the address Mailchimp stored; the first page tells `total_items` and the other pages are
 * read together. Answers `undefined` without reading further when the first page shows that the listing
 * would take `maxCalls` calls or more (the audience grew past what its statistics said): the caller then
 * reads member by member.
 */
export async function listAudienceMembers(
  deps: AudienceListingDeps,
  audienceId: string,
  maxCalls: number,
): Promise<Map<string, MailchimpMember[]> | undefined> {
  const first = deps.checked('applyConsent', await deps.page(audienceId, 0), listingPageSchema);
  if (listingCalls(first.total_items) >= maxCalls) return undefined;
  const rest = await Promise.all(
    Array.from({ length: listingCalls(first.total_items) - 1 }, (_, i) =>
      deps.page(audienceId, (i + 1) * membersPageLimit),
    ),
  );
  const byMailbox = new Map<string, MailchimpMember[]>();
  for (const page of [first, ...rest.map((body) => deps.checked('applyConsent', body, listingPageSchema))]) {
    for (const member of page.members) {
      const key = mailboxKey(member.email_address);
      const parsed = deps.checked('applyConsent', { ...member, list_id: audienceId }, memberSchema);
      byMailbox.set(key, [...(byMailbox.get(key) ?? []), parsed]);
    }
  }
  return byMailbox;
}
