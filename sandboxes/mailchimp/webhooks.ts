import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { notFound, sendProblem } from './problem.js';
import type { MailchimpSandboxStore, StoredList, StoredMember, StoredStatus } from './store.js';
import { mailchimpFieldMessages } from './validation-messages.js';

const eventTypes = ['subscribe', 'unsubscribe', 'profile', 'cleaned', 'upemail', 'campaign'] as const;
type EventType = (typeof eventTypes)[number];
const sources = ['user', 'admin', 'api'] as const;
type Source = (typeof sources)[number];

/**
 * What a webhook listens to when the request leaves a flag out: the events and sources Mailchimp's form
 * ticks by default. `api` is off by default, and should stay off for consent-hub: with it on, every change the
 * hub makes through the API would come back to it as a webhook.
 */
const defaultEvents: Record<EventType, boolean> = {
  subscribe: true,
  unsubscribe: true,
  profile: true,
  cleaned: true,
  upemail: true,
  campaign: false,
};
const defaultSources: Record<Source, boolean> = { user: true, admin: true, api: false };

const createWebhookSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  events: z.partialRecord(z.enum(eventTypes), z.boolean()).default({}),
  sources: z.partialRecord(z.enum(sources), z.boolean()).default({}),
});

export interface StoredWebhook {
  id: string;
  url: string;
  list_id: string;
  events: Record<EventType, boolean>;
  sources: Record<Source, boolean>;
}

/** One attempt to deliver an event: enough to see in /__sandbox/state that it went, never the payload. */
export interface WebhookDelivery {
  webhookId: string;
  type: EventType;
  attempt: number;
  status: number | 'unreachable';
  at: string;
}

/** The webhooks saved per audience, and the deliveries made, held by the sandbox's store. */
export class MailchimpWebhookRegistry {
  readonly hooks = new Map<string, StoredWebhook>();
  deliveries: WebhookDelivery[] = [];

  reset() {
    this.hooks.clear();
    this.deliveries = [];
  }

  snapshot() {
    return { hooks: [...this.hooks.values()], deliveries: this.deliveries };
  }

  forList(listId: string): StoredWebhook[] {
    return [...this.hooks.values()].filter((hook) => hook.list_id === listId);
  }
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, as Mailchimp writes `fired_at`. */
export function firedAt(date = new Date()): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Who made a change. Everything reaching the sandbox comes through its API, so a test or a demo that plays
 * the person clicking "unsubscribe" in an email says so with `X-Sandbox-Source: user` (or `admin` for the
 * Mailchimp web app); without it the change is the API's, as the hub's own changes are.
 */
function sourceOf(request: FastifyRequest): Source {
  const header = request.headers['x-sandbox-source'];
  return header === 'user' || header === 'admin' ? header : 'api';
}

function webhookJson(hook: StoredWebhook) {
  return { ...hook, _links: [] };
}

/** `POST/GET/DELETE /3.0/lists/{list_id}/webhooks[/{webhook_id}]`, inside the authenticated /3.0 scope. */
export function mailchimpWebhookRoutes(api: FastifyInstance, store: MailchimpSandboxStore) {
  type ListParams = { Params: { listId: string } };
  type HookParams = { Params: { listId: string; webhookId: string } };

  api.post<ListParams>('/lists/:listId/webhooks', async (request, reply) => {
    const list = store.lists.get(request.params.listId);
    if (!list) return sendProblem(reply, 404, notFound);
    const parsed = createWebhookSchema.safeParse(request.body ?? {}, { error: mailchimpFieldMessages });
    if (!parsed.success) {
      return sendProblem(reply, 400, {
        title: 'Invalid Resource',
        detail:
          "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
        errors: parsed.error.issues.map((issue) => ({ field: issue.path.join('.'), message: issue.message })),
      });
    }
    // Mailchimp checks the URL with a GET when the webhook is saved, and refuses one that does not answer 200.
    if (!(await answersValidation(parsed.data.url))) {
      return sendProblem(reply, 400, {
        title: 'Invalid Resource',
        detail:
          "The resource submitted could not be validated. For field-specific details, see the 'errors' array.",
        errors: [{ field: 'url', message: 'We couldn’t verify the URL is working. Please try again.' }],
      });
    }
    const hook: StoredWebhook = {
      id: randomBytes(5).toString('hex'),
      url: parsed.data.url,
      list_id: list.id,
      events: { ...defaultEvents, ...parsed.data.events },
      sources: { ...defaultSources, ...parsed.data.sources },
    };
    store.webhooks.hooks.set(hook.id, hook);
    return webhookJson(hook);
  });

  api.get<ListParams>('/lists/:listId/webhooks', async (request, reply) => {
    if (!store.lists.has(request.params.listId)) return sendProblem(reply, 404, notFound);
    const hooks = store.webhooks.forList(request.params.listId);
    return { webhooks: hooks.map(webhookJson), list_id: request.params.listId, total_items: hooks.length };
  });

  api.get<HookParams>('/lists/:listId/webhooks/:webhookId', async (request, reply) => {
    const hook = store.webhooks.hooks.get(request.params.webhookId);
    if (!hook || hook.list_id !== request.params.listId) return sendProblem(reply, 404, notFound);
    return webhookJson(hook);
  });

  api.delete<HookParams>('/lists/:listId/webhooks/:webhookId', async (request, reply) => {
    const hook = store.webhooks.hooks.get(request.params.webhookId);
    if (!hook || hook.list_id !== request.params.listId) return sendProblem(reply, 404, notFound);
    store.webhooks.hooks.delete(hook.id);
    return reply.code(204).send();
  });
}

async function answersValidation(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(5_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** What a member looked like before a change, to tell which events the change fires. */
export interface MemberBefore {
  status: StoredStatus;
  merges: string;
}

export function memberBefore(member: StoredMember): MemberBefore {
  return { status: member.status, merges: JSON.stringify(member.merge_fields) };
}

/** Fires the events a create or an update caused: subscribe, unsubscribe (unsub), cleaned, profile. */
export function fireMemberWebhooks(
  store: MailchimpSandboxStore,
  request: FastifyRequest,
  list: StoredList,
  member: StoredMember,
  before: MemberBefore | undefined,
) {
  const source = sourceOf(request);
  if (member.status !== before?.status) {
    if (member.status === 'subscribed') fire(store, list, 'subscribe', source, memberData(member));
    if (member.status === 'unsubscribed')
      fire(store, list, 'unsubscribe', source, { ...memberData(member), action: 'unsub', reason: 'manual' });
    if (member.status === 'cleaned')
      fire(store, list, 'cleaned', source, { email: member.email_address, reason: 'hard', campaign_id: '' });
  } else if (JSON.stringify(member.merge_fields) !== before.merges) {
    fire(store, list, 'profile', source, memberData(member));
  }
}

/** A member deleted (archived or permanently) while subscribed: Mailchimp sends `unsubscribe` with `delete`. */
export function fireMemberDeleted(
  store: MailchimpSandboxStore,
  request: FastifyRequest,
  list: StoredList,
  member: StoredMember,
  before: MemberBefore,
) {
  if (before.status !== 'subscribed') return;
  fire(store, list, 'unsubscribe', sourceOf(request), {
    ...memberData(member),
    action: 'delete',
    reason: 'manual',
  });
}

function memberData(member: StoredMember): Record<string, string> {
  const data: Record<string, string> = {
    id: member.unique_email_id,
    email: member.email_address,
    email_type: 'html',
    'merges][EMAIL': member.email_address,
  };
  for (const [name, value] of Object.entries(member.merge_fields))
    data[`merges][${name}`] = String(value ?? '');
  return data;
}

/** Form-encodes as Mailchimp does: `type`, `fired_at`, then `data[...]` keys, nested ones as `data[merges][X]`. */
function payload(type: EventType, list: StoredList, data: Record<string, string>): string {
  const form = new URLSearchParams({ type, fired_at: firedAt() });
  for (const [key, value] of Object.entries({ ...data, list_id: list.id }))
    form.append(`data[${key}]`, value);
  return form.toString();
}

function fire(
  store: MailchimpSandboxStore,
  list: StoredList,
  type: EventType,
  source: Source,
  data: Record<string, string>,
) {
  const body = payload(type, list, data);
  for (const hook of store.webhooks.forList(list.id)) {
    if (!hook.events[type] || !hook.sources[source]) continue;
    // After the API's answer, as Mailchimp's deliveries are: the caller never waits for the receiver.
    void deliver(store, hook, type, body);
  }
}

/** A few quick retries; Mailchimp keeps retrying for about 75 minutes, which a sandbox has no need to copy. */
async function deliver(store: MailchimpSandboxStore, hook: StoredWebhook, type: EventType, body: string) {
  for (let attempt = 1; attempt <= 3; attempt++) {
    let status: number | 'unreachable';
    try {
      const response = await fetch(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'MailChimp' },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      status = response.status;
    } catch {
      status = 'unreachable';
    }
    store.webhooks.deliveries.push({
      webhookId: hook.id,
      type,
      attempt,
      status,
      at: new Date().toISOString(),
    });
    if (typeof status === 'number' && status >= 200 && status < 300) return;
    await delay(250 * attempt);
  }
}
