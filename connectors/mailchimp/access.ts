import { z } from 'zod';
import type { AccessField, AccessHoldings, AccessRecord, SubjectIdentifiers } from '../connector.js';
import type { MailchimpApi } from './mailchimp-sdk.js';

/** What the access read needs from the connector: its API, its call wrapper and its member lookup. */
export interface MailchimpAccessDeps {
  api: MailchimpApi;
  /** The connector's call: failures become VendorErrors naming the audience; the answer is checked. */
  call: <S extends z.ZodType>(
    run: () => Promise<unknown>,
    schema: S,
    audienceId: string,
  ) => Promise<z.output<S>>;
  /** The person's member in one audience (by hash, else by search; archived included), or undefined. */
  memberIn: (audienceId: string, email: string) => Promise<{ id: string } | undefined>;
  audiences: () => Promise<string[]>;
}

/** Mailchimp caps `count` at 1000 (methods-parameters, pagination). */
const pageSize = 1000;

const rawSchema = z.record(z.string(), z.unknown());
const tagsPageSchema = z.object({ tags: z.array(rawSchema), total_items: z.number() }).loose();
const notesPageSchema = z.object({ notes: z.array(rawSchema), total_items: z.number() }).loose();
const activityPageSchema = z.object({ activity: z.array(rawSchema), total_items: z.number() }).loose();

/** Every page of a member's sub-collection (tags, notes, activity), `count`/`offset` until `total_items`. */
async function allPages<K extends string>(
  read: (offset: number) => Promise<Record<K, Record<string, unknown>[]> & { total_items: number }>,
  key: K,
  progress: () => void,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  for (let offset = 0; ; offset += pageSize) {
    const page = await read(offset);
    items.push(...page[key]);
    progress();
    if (page[key].length === 0 || offset + pageSize >= page.total_items) return items;
  }
}

const withoutLinks = (value: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(value).filter(([name]) => name !== '_links'));

/**
 * Everything Mailchimp holds about a person, per audience the key can see (or MAILCHIMP_AUDIENCE_IDS): the
 * member with all its fields (merge fields one by one, marketing permissions, status, signup and change
 * times), its tags with when each was added (list-member-tags), the notes staff wrote on it
 * (list-member-notes) and its activity feed: opens, clicks, sign-ups (list-member-activity-feed). Each
 * sub-collection is read page by page; `progress` is called after each page.
 */
export async function collectMailchimpAccess(
  deps: MailchimpAccessDeps,
  subject: SubjectIdentifiers,
  progress: () => void = () => {},
): Promise<AccessHoldings> {
  const records: AccessRecord[] = [];
  for (const audienceId of await deps.audiences()) {
    const found = await deps.memberIn(audienceId, subject.email);
    progress();
    if (!found) continue;
    const hash = found.id;
    const member = await deps.call(() => deps.api.getListMember(audienceId, hash), rawSchema, audienceId);
    const tags = await allPages(
      (offset) =>
        deps.call(
          () => deps.api.getListMemberTags(audienceId, hash, { count: pageSize, offset }),
          tagsPageSchema,
          audienceId,
        ),
      'tags',
      progress,
    );
    const notes = await allPages(
      (offset) =>
        deps.call(
          () => deps.api.getListMemberNotes(audienceId, hash, { count: pageSize, offset }),
          notesPageSchema,
          audienceId,
        ),
      'notes',
      progress,
    );
    const activity = await allPages(
      (offset) =>
        deps.call(
          () => deps.api.getListMemberActivityFeed(audienceId, hash, { count: pageSize, offset }),
          activityPageSchema,
          audienceId,
        ),
      'activity',
      progress,
    );

    const fields: AccessField[] = [];
    for (const [name, value] of Object.entries(withoutLinks(member))) {
      if (name === 'merge_fields' && value && typeof value === 'object') {
        for (const [tag, merged] of Object.entries(value as Record<string, unknown>))
          fields.push({ name: `merge_fields.${tag}`, label: `Merge field ${tag}`, value: merged });
      } else if (name === 'tags') {
        fields.push({ name: 'tags', label: 'Tags', value: tags.map(withoutLinks) });
      } else {
        fields.push({ name, value });
      }
    }
    const regarding = { kind: 'member', id: hash };
    records.push({ kind: 'member', id: hash, container: audienceId, fields });
    for (const note of notes) {
      records.push({
        kind: 'note',
        // Mailchimp names a note's id `id` (list-member-notes/list-recent-member-notes).
        id: String(note.id ?? ''),
        container: audienceId,
        regarding,
        fields: Object.entries(withoutLinks(note)).map(([name, value]) => ({ name, value })),
      });
    }
    activity.forEach((event, index) => {
      records.push({
        kind: 'activity',
        id: `${hash}:${index + 1}`,
        container: audienceId,
        regarding,
        fields: Object.entries(withoutLinks(event)).map(([name, value]) => ({ name, value })),
      });
    });
  }
  return { records, statements: [] };
}
