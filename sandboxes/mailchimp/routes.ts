import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { acceptVendorJson } from '../framework/lenient-json.js';
import type { SandboxContext } from '../framework/sandbox-definition.js';
import { trackAllowedMethods } from './allowed-methods.js';
import { authProblem } from './auth.js';
import { applyFieldSelection, fieldSelection } from './partial-response.js';
import { notFound, type Problem, sendProblem } from './problem.js';
import {
  type MailchimpSandboxStore,
  type MemberStatus,
  mailchimpTime,
  memberStatusSchema,
  newListId,
  type StoredList,
  type StoredMember,
  type StoredNote,
} from './store.js';
import { mailchimpSubscriberHash as subscriberHash } from './subscriber-hash.js';
import { mailchimpFieldMessages } from './validation-messages.js';
import { fireMemberDeleted, fireMemberWebhooks, mailchimpWebhookRoutes, memberBefore } from './webhooks.js';

/** Thrown inside a handler to answer with a Mailchimp problem; caught by the scope's error handler. */
class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.title);
  }
}

const invalidResource = (detail: string, errors?: Problem['errors']) =>
  new ProblemError(400, { title: 'Invalid Resource', detail, errors });

/** Parses with zod and answers Mailchimp's validation problem, field by field, when it fails. */
function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value ?? {}, { error: mailchimpFieldMessages });
  if (result.success) return result.data;
  throw invalidResource(
    "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
    result.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message })),
  );
}

/**
 * `count` defaults to 10 and is capped at 1000: a larger value is truncated, not refused
 * (https://mailchimp.com/developer/marketing/docs/methods-parameters/#pagination).
 */
const maxCount = 1000;
const pagingSchema = {
  count: z.coerce
    .number()
    .int()
    .min(1)
    .default(10)
    .transform((count) => Math.min(count, maxCount)),
  offset: z.coerce.number().int().min(0).default(0),
};
const listsQuerySchema = z.object(pagingSchema);
const membersQuerySchema = z.object({
  ...pagingSchema,
  status: z.enum([...memberStatusSchema.options, 'archived']).optional(),
  since_last_changed: z.string().datetime({ offset: true }).optional(),
  unsubscribed_since: z.string().datetime({ offset: true }).optional(),
});
const searchQuerySchema = z.object({ query: z.string().min(1), list_id: z.string().optional() });

const createListSchema = z.object({
  name: z.string().min(1),
  permission_reminder: z.string().min(1),
  email_type_option: z.boolean(),
  contact: z.record(z.string(), z.unknown()),
  campaign_defaults: z.record(z.string(), z.unknown()),
});

const permissionChangeSchema = z.object({ marketing_permission_id: z.string(), enabled: z.boolean() });
const memberBodySchema = z.object({
  email_address: z.string().optional(),
  status: memberStatusSchema.optional(),
  status_if_new: memberStatusSchema.optional(),
  merge_fields: z.record(z.string(), z.unknown()).optional(),
  marketing_permissions: z.array(permissionChangeSchema).optional(),
  email_type: z.enum(['html', 'text']).optional(),
  tags: z.array(z.string().min(1)).optional(),
});
type MemberBody = z.output<typeof memberBodySchema>;
const memberTagsSchema = z.object({
  tags: z.array(z.object({ name: z.string().min(1).max(100), status: z.enum(['active', 'inactive']) })),
  is_syncing: z.boolean().optional(),
});

const simpleEmail = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function listJson(list: StoredList) {
  const members = [...list.members.values()];
  return {
    id: list.id,
    name: list.name,
    date_created: list.date_created,
    permission_reminder: list.permission_reminder,
    email_type_option: list.email_type_option,
    contact: list.contact,
    campaign_defaults: list.campaign_defaults,
    // On the real service this flag says whether GDPR fields are on; the ids come with each member.
    marketing_permissions: list.marketing_permissions.length > 0,
    stats: {
      member_count: members.filter((m) => m.status === 'subscribed').length,
      unsubscribe_count: members.filter((m) => m.status === 'unsubscribed').length,
      cleaned_count: members.filter((m) => m.status === 'cleaned').length,
    },
  };
}

/** A member as the List Members API answers it (https://mailchimp.com/developer/marketing/api/list-members/). */
function memberJson(member: StoredMember) {
  const { unsubscribed_at: _internal, notes: _notes, activity: _activity, ...visible } = member;
  const name = [member.merge_fields.FNAME, member.merge_fields.LNAME]
    .filter((part): part is string => typeof part === 'string' && part.trim() !== '')
    .join(' ');
  return {
    ...visible,
    tags: member.tags.map(({ id, name: tagName }) => ({ id, name: tagName })),
    full_name: name,
    tags_count: member.tags.length,
  };
}

/** The member's first and last name, and its full name, lower-cased: what a name search looks at. */
function memberNames(member: StoredMember): string[] {
  const { FNAME, LNAME } = member.merge_fields;
  return [FNAME, LNAME, memberJson(member).full_name]
    .filter((name): name is string => typeof name === 'string' && name !== '')
    .map((name) => name.toLowerCase());
}

function touch(member: StoredMember) {
  member.last_changed = mailchimpTime();
}

/** Mailchimp refuses to re-subscribe someone who unsubscribed (or bounced): the route back is `pending`. */
function setStatus(member: StoredMember, next: MemberStatus) {
  if (member.status === next) return;
  if (next === 'subscribed' && (member.status === 'unsubscribed' || member.status === 'cleaned')) {
    throw new ProblemError(400, {
      title: 'Member In Compliance State',
      detail: `${member.email_address} is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed.`,
    });
  }
  member.status = next;
  if (next === 'unsubscribed') member.unsubscribed_at = mailchimpTime();
  touch(member);
}

function applyFields(list: StoredList, member: StoredMember, body: MemberBody) {
  for (const change of body.marketing_permissions ?? []) {
    const held = member.marketing_permissions.find(
      (p) => p.marketing_permission_id === change.marketing_permission_id,
    );
    if (!held) {
      throw invalidResource(`Invalid marketing permission id for audience ${list.id}.`, [
        { field: 'marketing_permissions', message: 'Unknown marketing_permission_id' },
      ]);
    }
    if (held.enabled !== change.enabled) {
      held.enabled = change.enabled;
      touch(member);
    }
  }
  if (body.merge_fields) {
    member.merge_fields = { ...member.merge_fields, ...body.merge_fields };
    touch(member);
  }
  if (body.email_type && body.email_type !== member.email_type) {
    member.email_type = body.email_type;
    touch(member);
  }
  for (const name of body.tags ?? []) {
    if (member.tags.some((tag) => tag.name === name)) continue;
    member.tags.push({
      id: Math.max(0, ...member.tags.map((tag) => tag.id)) + 1,
      name,
      date_added: mailchimpTime(),
    });
    touch(member);
  }
}

/**
 * A PATCH with another `email_address` changes the member's address (Update list member,
 * https://mailchimp.com/developer/marketing/api/list-members/update-list-member/): the member is then
 * addressed by the new address's hash. An address that is already a member of the audience is refused with
 * 400 "Member Exists", as adding one is; a permanently deleted one with "Forgotten Email Not Subscribed".
 */
function changeAddress(list: StoredList, member: StoredMember, email: string) {
  const hash = subscriberHash(email);
  const existing = list.members.get(hash);
  if (existing && existing !== member) {
    throw new ProblemError(400, {
      title: 'Member Exists',
      detail: `${email} is already a list member. Use PUT to insert or update list members.`,
    });
  }
  if (list.forgotten.has(hash)) throw forgottenProblem(email);
  list.members.delete(member.id);
  member.id = hash;
  member.email_address = email;
  list.members.set(hash, member);
  touch(member);
}

function forgottenProblem(email: string): ProblemError {
  return new ProblemError(400, {
    title: 'Forgotten Email Not Subscribed',
    detail: `${email} was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list.`,
  });
}

/** The address as given: checked for shape, but stored and hashed without trimming or normalising. */
function validEmail(body: MemberBody): string {
  const email = body.email_address;
  if (!email || !simpleEmail.test(email.trim())) {
    throw invalidResource('Please provide a valid email address.', [
      { field: 'email_address', message: 'This value should be a valid email.' },
    ]);
  }
  return email;
}

/**
 * The member path's `{subscriber_hash}` also accepts "the list member's email address or contact_id"
 * (SDK docstring of lists.getListMember, generated from Mailchimp's API spec).
 */
function memberKey(list: StoredList, param: string): string {
  if (param.includes('@')) return subscriberHash(param);
  if (/^[0-9a-f]{32}$/i.test(param) && list.members.has(param.toLowerCase())) return param.toLowerCase();
  const byContact = [...list.members.values()].find((m) => m.contact_id === param);
  return byContact?.id ?? param.toLowerCase();
}

/** Archiving refuses bounced (cleaned), pending and already archived members (amro/gibbon#320). */
const unarchivable: ReadonlySet<string> = new Set(['cleaned', 'pending', 'archived']);

/** Creates a member, unless the address was permanently deleted from this audience. */
function createMember(
  store: MailchimpSandboxStore,
  list: StoredList,
  email: string,
  status: MemberStatus,
  body: MemberBody,
) {
  if (list.forgotten.has(subscriberHash(email))) throw forgottenProblem(email);
  const member = store.newMember(list, email, status);
  applyFields(list, member, body);
  list.members.set(member.id, member);
  return member;
}

/**
 * Batch subscribe or unsubscribe (https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/):
 * `POST /lists/{list_id}` with `{members: [...], update_existing}`, "up to 500 members ... with each API call".
 * Each member is handled on its own, with the same rules as the single-member routes: an address already in
 * the audience is refused unless `update_existing` is true (ERROR_CONTACT_EXISTS), a return to `subscribed`
 * from unsubscribed or cleaned is the compliance-state refusal, and a permanently deleted address cannot be
 * re-imported; those become entries of `errors[]` (`email_address`, `error`, `error_code`, `field`,
 * `field_message`) while the others are applied. The answer is 200 with `new_members`, `updated_members`,
 * `errors`, `total_created`, `total_updated` and `error_count`. `skip_duplicate_check` (SDK docstring of
 * lists.batchListMembers): without it a repeated address is an error; with it the first appearance is kept.
 * The error codes are the two the API spec's enum names, ERROR_CONTACT_EXISTS and ERROR_GENERIC.
 */
export const maxBatchMembers = 500;
const batchBodySchema = z.object({
  members: z.array(z.unknown()).max(maxBatchMembers, `You may submit at most ${maxBatchMembers} members.`),
  update_existing: z.boolean().default(false),
});
const batchQuerySchema = z.object({
  skip_merge_validation: z.stringbool().optional(),
  skip_duplicate_check: z.stringbool().default(false),
});
const batchMemberSchema = z.object({
  email_address: z.string(),
  status: memberStatusSchema,
  email_type: z.enum(['html', 'text']).optional(),
  merge_fields: z.record(z.string(), z.unknown()).optional(),
});

interface BatchError {
  email_address: string;
  error: string;
  error_code: 'ERROR_CONTACT_EXISTS' | 'ERROR_GENERIC';
  field: string;
  field_message: string;
}

/** The Marketing API v3 routes the connector and the demo use, under `/3.0`. */
export function mailchimpRoutes(app: FastifyInstance, { store }: SandboxContext<MailchimpSandboxStore>) {
  app.register(
    async (api) => {
      // The SDK sends `Content-Type: application/json` even on bodiless POSTs and DELETEs, which Mailchimp
      // accepts; Fastify's default parser would refuse an empty JSON body.
      acceptVendorJson(
        api,
        () =>
          new ProblemError(400, {
            title: 'JSON Parse Error',
            detail: 'We encountered an unspecified JSON parsing error.',
          }),
      );

      api.setErrorHandler((error, _request, reply) => {
        if (error instanceof ProblemError) return sendProblem(reply, error.status, error.problem);
        throw error;
      });
      const allowedMethods = trackAllowedMethods(api);
      api.setNotFoundHandler((request, reply) => {
        const allowed = allowedMethods(request.url.split('?')[0] ?? '');
        if (allowed.length === 0) return sendProblem(reply, 404, notFound);
        reply.header('allow', allowed.join(', '));
        return sendProblem(reply, 405, {
          title: 'Method Not Allowed',
          detail:
            "The requested method and resource are not compatible. See the Allow header for this resource's available methods.",
        });
      });

      // Partial responses on every answer (methods-parameters, "Partial responses").
      api.addHook('preSerialization', async (request, _reply, payload) =>
        applyFieldSelection(payload, fieldSelection(request.query)),
      );

      api.addHook('onRequest', async (request, reply) => {
        const problem = authProblem(request, store);
        if (problem) return sendProblem(reply, 401, problem);
      });

      const listOr404 = (listId: string) => {
        const list = store.lists.get(listId);
        if (!list) throw new ProblemError(404, notFound);
        return list;
      };
      const memberOr404 = (list: StoredList, hashOrAddress: string) => {
        const member = list.members.get(memberKey(list, hashOrAddress));
        if (!member) throw new ProblemError(404, notFound);
        return member;
      };
      const noContent = (reply: FastifyReply) => reply.code(204).send();

      api.get('/ping', async () => ({ health_status: "Everything's Chimpy!" }));

      api.get('/lists', async (request) => {
        const query = parse(listsQuerySchema, request.query);
        const all = [...store.lists.values()];
        return {
          lists: all.slice(query.offset, query.offset + query.count).map(listJson),
          total_items: all.length,
        };
      });

      api.post('/lists', async (request) => {
        const body = parse(createListSchema, request.body);
        return listJson(store.addList({ id: newListId(), marketing_permissions: [], ...body }));
      });

      api.get<{ Params: { listId: string } }>('/lists/:listId', async (request) =>
        listJson(listOr404(request.params.listId)),
      );

      // Delete list (lists/delete-list): 204; the audience, its members, their notes and its webhooks are gone,
      // and the list answers 404 from then on.
      api.delete<{ Params: { listId: string } }>('/lists/:listId', async (request, reply) => {
        const list = listOr404(request.params.listId);
        store.lists.delete(list.id);
        for (const hook of store.webhooks.forList(list.id)) store.webhooks.hooks.delete(hook.id);
        return noContent(reply);
      });

      api.get<{ Params: { listId: string } }>('/lists/:listId/members', async (request) => {
        const list = listOr404(request.params.listId);
        const query = parse(membersQuerySchema, request.query);
        const since = query.since_last_changed ? Date.parse(query.since_last_changed) : undefined;
        const unsubscribedSince = query.unsubscribed_since ? Date.parse(query.unsubscribed_since) : undefined;
        const matching = [...list.members.values()].filter(
          (m) =>
            // Archived members appear only when asked for by status, as on the real service.
            (query.status ? m.status === query.status : m.status !== 'archived') &&
            (since === undefined || Date.parse(m.last_changed) >= since) &&
            (unsubscribedSince === undefined ||
              (m.status === 'unsubscribed' &&
                m.unsubscribed_at !== undefined &&
                Date.parse(m.unsubscribed_at) >= unsubscribedSince)),
        );
        return {
          members: matching.slice(query.offset, query.offset + query.count).map(memberJson),
          list_id: list.id,
          total_items: matching.length,
        };
      });

      api.post<{ Params: { listId: string } }>('/lists/:listId/members', async (request) => {
        const list = listOr404(request.params.listId);
        const body = parse(memberBodySchema, request.body);
        const email = validEmail(body);
        if (!body.status)
          throw invalidResource('The status field is required.', [
            { field: 'status', message: 'This value should not be blank.' },
          ]);
        const existing = list.members.get(subscriberHash(email));
        if (existing && existing.status !== 'archived') {
          throw new ProblemError(400, {
            title: 'Member Exists',
            detail: `${email} is already a list member. Use PUT to insert or update list members.`,
          });
        }
        const created = createMember(store, list, email, body.status, body);
        fireMemberWebhooks(store, request, list, created, undefined);
        return memberJson(created);
      });

      api.post<{ Params: { listId: string } }>('/lists/:listId', async (request) => {
        const list = listOr404(request.params.listId);
        const body = parse(batchBodySchema, request.body);
        const query = parse(batchQuerySchema, request.query);
        const created: StoredMember[] = [];
        const updated: StoredMember[] = [];
        const errors: BatchError[] = [];
        const seen = new Set<string>();
        for (const given of body.members) {
          const address =
            typeof given === 'object' && given !== null && 'email_address' in given
              ? String((given as { email_address: unknown }).email_address)
              : '';
          const fail = (error: string, code: BatchError['error_code'], field = '', fieldMessage = '') =>
            errors.push({
              email_address: address,
              error,
              error_code: code,
              field,
              field_message: fieldMessage,
            });
          const parsed = batchMemberSchema.safeParse(given, { error: mailchimpFieldMessages });
          if (!parsed.success) {
            const issue = parsed.error.issues[0];
            fail('Invalid Resource', 'ERROR_GENERIC', issue?.path.join('.') ?? '', issue?.message ?? '');
            continue;
          }
          const member = parsed.data;
          if (!simpleEmail.test(member.email_address.trim())) {
            fail(
              `${member.email_address} looks fake or invalid, please enter a real email address.`,
              'ERROR_GENERIC',
              'email_address',
              'This value should be a valid email.',
            );
            continue;
          }
          const hash = subscriberHash(member.email_address);
          if (seen.has(hash)) {
            if (!query.skip_duplicate_check)
              fail(`${member.email_address} is a duplicate in this request.`, 'ERROR_GENERIC');
            continue;
          }
          seen.add(hash);
          const existing = list.members.get(hash);
          try {
            if (existing && existing.status !== 'archived') {
              if (!body.update_existing) {
                fail(
                  `${member.email_address} is already a list member, do you want to update? please provide update_existing:true in the request body`,
                  'ERROR_CONTACT_EXISTS',
                );
                continue;
              }
              const before = memberBefore(existing);
              setStatus(existing, member.status);
              applyFields(list, existing, member);
              fireMemberWebhooks(store, request, list, existing, before);
              updated.push(existing);
            } else {
              const fresh = createMember(store, list, member.email_address, member.status, member);
              fireMemberWebhooks(store, request, list, fresh, undefined);
              created.push(fresh);
            }
          } catch (error) {
            if (!(error instanceof ProblemError)) throw error;
            fail(error.problem.detail, 'ERROR_GENERIC');
          }
        }
        return {
          new_members: created.map(memberJson),
          updated_members: updated.map(memberJson),
          errors,
          total_created: created.length,
          total_updated: updated.length,
          error_count: errors.length,
        };
      });

      type MemberParams = { Params: { listId: string; hash: string } };

      // A member's tags with when each was added (list-member-tags/list-member-tags): `{tags:[{id, name,
      // date_added}], total_items}`, paged by count and offset.
      api.get<MemberParams>('/lists/:listId/members/:hash/tags', async (request) => {
        const member = memberOr404(listOr404(request.params.listId), request.params.hash);
        const query = parse(listsQuerySchema, request.query);
        return {
          tags: member.tags.slice(query.offset, query.offset + query.count).map((tag) => ({
            id: tag.id,
            name: tag.name,
            date_added: tag.date_added ?? member.timestamp_signup,
          })),
          total_items: member.tags.length,
        };
      });

      // A note as Mailchimp answers it (list-member-notes/get-member-note): `{id, created_at, created_by,
      // updated_at, note, list_id, email_id, contact_id, _links}`.
      const noteJson = (member: StoredMember, note: StoredNote) => ({
        id: note.id,
        created_at: note.created_at,
        created_by: note.created_by,
        updated_at: note.updated_at,
        note: note.note,
        list_id: member.list_id,
        email_id: member.id,
        contact_id: member.contact_id,
        _links: [],
      });
      // Add and update take `{note}`, "limited to 1,000 characters" (add-member-note, update-note); a blank
      // note is refused like a missing one.
      const noteBodySchema = z.object({
        note: z
          .string({ error: 'This value should not be blank.' })
          .refine((text) => text.trim() !== '', { error: 'This value should not be blank.' })
          .refine((text) => text.length <= 1000, { error: 'Note length is limited to 1,000 characters.' }),
      });
      type NoteParams = { Params: { listId: string; hash: string; noteId: string } };
      const noteOr404 = (member: StoredMember, noteId: string) => {
        const note = (member.notes ?? []).find((n) => String(n.id) === noteId);
        if (!note) throw new ProblemError(404, notFound);
        return note;
      };

      // Notes on a member (list-member-notes/list-recent-member-notes): `{notes:[note], list_id, email_id,
      // total_items}`, paged by count and offset.
      api.get<MemberParams>('/lists/:listId/members/:hash/notes', async (request) => {
        const member = memberOr404(listOr404(request.params.listId), request.params.hash);
        const query = parse(listsQuerySchema, request.query);
        const notes = member.notes ?? [];
        return {
          notes: notes.slice(query.offset, query.offset + query.count).map((note) => noteJson(member, note)),
          list_id: member.list_id,
          email_id: member.id,
          total_items: notes.length,
        };
      });

      // Add a note to a member (list-member-notes/add-member-note): answers 200 with the note, and the list
      // shows it from then on.
      api.post<MemberParams>('/lists/:listId/members/:hash/notes', async (request) => {
        const member = memberOr404(listOr404(request.params.listId), request.params.hash);
        const body = parse(noteBodySchema, request.body);
        member.notes ??= [];
        const notes = member.notes;
        const now = mailchimpTime();
        const note: StoredNote = {
          id: Math.max(0, ...notes.map((n) => n.id)) + 1,
          created_at: now,
          created_by: '',
          updated_at: now,
          note: body.note,
        };
        notes.push(note);
        return noteJson(member, note);
      });

      // One note (list-member-notes/get-member-note); 404 once it is deleted.
      api.get<NoteParams>('/lists/:listId/members/:hash/notes/:noteId', async (request) => {
        const member = memberOr404(listOr404(request.params.listId), request.params.hash);
        return noteJson(member, noteOr404(member, request.params.noteId));
      });

      // Update a note (list-member-notes/update-note): body `{note}`; answers the note with a new updated_at.
      api.patch<NoteParams>('/lists/:listId/members/:hash/notes/:noteId', async (request) => {
        const member = memberOr404(listOr404(request.params.listId), request.params.hash);
        const note = noteOr404(member, request.params.noteId);
        const body = parse(noteBodySchema, request.body);
        note.note = body.note;
        note.updated_at = mailchimpTime();
        return noteJson(member, note);
      });

      // Delete a note (list-member-notes/delete-note): 204, and the note is gone.
      api.delete<NoteParams>('/lists/:listId/members/:hash/notes/:noteId', async (request, reply) => {
        const member = memberOr404(listOr404(request.params.listId), request.params.hash);
        const note = noteOr404(member, request.params.noteId);
        member.notes = (member.notes ?? []).filter((n) => n !== note);
        return noContent(reply);
      });

      // The member's activity feed, newest first (list-member-activity-feed/view-recent-activity):
      // `{activity:[{activity_type, created_at_timestamp, ...}], email_id, list_id, total_items}`.
      api.get<MemberParams>('/lists/:listId/members/:hash/activity-feed', async (request) => {
        const member = memberOr404(listOr404(request.params.listId), request.params.hash);
        const query = parse(listsQuerySchema, request.query);
        const activity = [...(member.activity ?? [])].reverse();
        return {
          activity: activity.slice(query.offset, query.offset + query.count),
          email_id: member.id,
          list_id: member.list_id,
          total_items: activity.length,
        };
      });

      api.get<MemberParams>('/lists/:listId/members/:hash', async (request) =>
        memberJson(memberOr404(listOr404(request.params.listId), request.params.hash)),
      );

      // Upsert: an existing member is updated (status_if_new ignored); a new one gets status or status_if_new.
      api.put<MemberParams>('/lists/:listId/members/:hash', async (request) => {
        const list = listOr404(request.params.listId);
        const body = parse(memberBodySchema, request.body);
        const email = validEmail(body);
        const hash = memberKey(list, request.params.hash);
        if (subscriberHash(email) !== hash) {
          throw invalidResource('The subscriber hash in the URL does not match the email_address.', [
            { field: 'email_address', message: 'Does not match the subscriber hash.' },
          ]);
        }
        const existing = list.members.get(hash);
        if (existing && existing.status !== 'archived') {
          const before = memberBefore(existing);
          if (body.status) setStatus(existing, body.status);
          applyFields(list, existing, body);
          fireMemberWebhooks(store, request, list, existing, before);
          return memberJson(existing);
        }
        const status = body.status ?? body.status_if_new;
        if (!status) {
          throw invalidResource('status_if_new is required to add a new member.', [
            { field: 'status_if_new', message: 'This value should not be blank.' },
          ]);
        }
        const created = createMember(store, list, email, status, body);
        fireMemberWebhooks(store, request, list, created, undefined);
        return memberJson(created);
      });

      api.patch<MemberParams>('/lists/:listId/members/:hash', async (request) => {
        const list = listOr404(request.params.listId);
        const member = memberOr404(list, request.params.hash);
        const body = parse(memberBodySchema, request.body);
        const before = memberBefore(member);
        if (body.email_address !== undefined && subscriberHash(body.email_address) !== member.id) {
          changeAddress(list, member, validEmail(body));
        }
        if (body.status) setStatus(member, body.status);
        applyFields(list, member, body);
        fireMemberWebhooks(store, request, list, member, before);
        return memberJson(member);
      });

      // DELETE only archives: the member and the address stay, which is why it is not an erasure.
      api.delete<MemberParams>('/lists/:listId/members/:hash', async (request, reply) => {
        const list = listOr404(request.params.listId);
        const member = memberOr404(list, request.params.hash);
        if (unarchivable.has(member.status)) {
          throw new ProblemError(405, {
            title: 'Method Not Allowed',
            detail:
              'This list member cannot be removed. Can not archive a contact that is bounced, pending or archived',
          });
        }
        const before = memberBefore(member);
        member.status = 'archived';
        touch(member);
        fireMemberDeleted(store, request, list, member, before);
        return noContent(reply);
      });

      api.post<MemberParams>(
        '/lists/:listId/members/:hash/actions/delete-permanent',
        async (request, reply) => {
          const list = listOr404(request.params.listId);
          const member = memberOr404(list, request.params.hash);
          fireMemberDeleted(store, request, list, member, memberBefore(member));
          list.members.delete(member.id);
          list.forgotten.add(member.id);
          return noContent(reply);
        },
      );

      // Add or remove member tags (https://mailchimp.com/developer/marketing/api/list-member-tags/
      // add-or-remove-member-tags/): `{tags:[{name, status:"active"|"inactive"}], is_syncing?}` → 204 with no
      // body. An active tag that does not exist yet is created; removing a tag the member lacks is no error.
      api.post<MemberParams>('/lists/:listId/members/:hash/tags', async (request, reply) => {
        const list = listOr404(request.params.listId);
        const member = memberOr404(list, request.params.hash);
        const body = parse(memberTagsSchema, request.body);
        for (const tag of body.tags) {
          const held = member.tags.find((t) => t.name === tag.name);
          if (tag.status === 'active' && !held) {
            member.tags.push({
              id: Math.max(0, ...member.tags.map((t) => t.id)) + 1,
              name: tag.name,
              date_added: mailchimpTime(),
            });
            touch(member);
          } else if (tag.status === 'inactive' && held) {
            member.tags = member.tags.filter((t) => t !== held);
            touch(member);
          }
        }
        return noContent(reply);
      });

      api.get('/search-members', async (request) => {
        const query = parse(searchQuerySchema, request.query);
        const needle = query.query.trim().toLowerCase();
        const lists = query.list_id ? [listOr404(query.list_id)] : [...store.lists.values()];
        const members = lists.flatMap((l) => [...l.members.values()]).filter((m) => m.status !== 'archived');
        // "Query should be a valid email, or a string representing a contact's first or last name"
        // (https://mailchimp.com/developer/marketing/api/search-members/). Exact matches are the address (or
        // full name) itself; the full search finds it inside addresses and names. Case is folded; spaces
        // around a stored address are not part of the match; Unicode forms are compared as stored.
        const exactly = (m: StoredMember) =>
          m.email_address.trim().toLowerCase() === needle || memberNames(m).includes(needle);
        const exact = members.filter(exactly);
        const partial = members.filter(
          (m) =>
            !exactly(m) &&
            [m.email_address.toLowerCase(), ...memberNames(m)].some((text) => text.includes(needle)),
        );
        return {
          exact_matches: { members: exact.map(memberJson), total_items: exact.length },
          full_search: { members: partial.map(memberJson), total_items: partial.length },
        };
      });

      mailchimpWebhookRoutes(api, store);
    },
    { prefix: '/3.0' },
  );
}
