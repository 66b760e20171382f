import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { SandboxStore } from '../framework/sandbox-definition.js';
import { mailchimpSubscriberHash as subscriberHash } from './subscriber-hash.js';
import { MailchimpWebhookRegistry } from './webhooks.js';

export const memberStatuses = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional'] as const;
export const memberStatusSchema = z.enum(memberStatuses);
export type MemberStatus = z.infer<typeof memberStatusSchema>;
/** `archived` is what DELETE leaves behind; it is a status in answers and filters, never one a client sets. */
export type StoredStatus = MemberStatus | 'archived';

export const mailchimpSandboxOptionsSchema = z.object({
  /** Keys the sandbox accepts, `<32 hex>-<dc>`. Also accepted as Bearer tokens. */
  apiKeys: z.array(z.string().min(1)).min(1),
  /** The sandbox's data centre; a key with another suffix gets 401, as on the real service. */
  dc: z.string().default('us21'),
  /** Mailchimp allows 10 simultaneous connections per key; the 11th gets 429. */
  maxConnectionsPerKey: z.number().int().min(1).default(10),
});
export type MailchimpSandboxOptions = z.input<typeof mailchimpSandboxOptionsSchema>;

const permissionDefinitionSchema = z.object({ marketing_permission_id: z.string(), text: z.string() });

export const mailchimpSeedSchema = z.object({
  lists: z.array(
    z.object({
      id: z.string().min(1),
      name: z.string().min(1),
      marketing_permissions: z.array(permissionDefinitionSchema).default([]),
      members: z
        .array(
          z.object({
            email_address: z.string().min(3),
            status: memberStatusSchema,
            merge_fields: z.record(z.string(), z.unknown()).default({}),
            marketing_permissions: z
              .array(z.object({ marketing_permission_id: z.string(), enabled: z.boolean() }))
              .default([]),
            last_changed: z.string().optional(),
            tags: z.array(z.string()).default([]),
            /** Notes on the member, as staff add them (list-member-notes). */
            notes: z.array(z.object({ note: z.string(), created_by: z.string().default('') })).default([]),
            /** The member's activity feed: opens, clicks, sign-ups ... (list-member-activity-feed). */
            activity: z
              .array(z.object({ activity_type: z.string().min(1) }).catchall(z.unknown()))
              .default([]),
          }),
        )
        .default([]),
    }),
  ),
});
export type MailchimpSeed = z.input<typeof mailchimpSeedSchema>;
export type MailchimpSeedData = z.output<typeof mailchimpSeedSchema>;

export interface StoredPermission {
  marketing_permission_id: string;
  text: string;
  enabled: boolean;
}

export interface StoredTag {
  id: number;
  name: string;
  /** When the tag was added; the member-tags list shows it, the member itself does not. */
  date_added?: string;
}

/** A note on a member (https://mailchimp.com/developer/marketing/api/list-member-notes/). */
export interface StoredNote {
  /** Mailchimp names a note's id `id` (get-member-note). */
  id: number;
  created_at: string;
  created_by: string;
  updated_at: string;
  note: string;
}

/** One event of a member's activity feed (list-member-activity-feed): its type, time and details. */
export type StoredActivity = { activity_type: string; created_at_timestamp: string } & Record<
  string,
  unknown
>;

export interface StoredMember {
  id: string;
  /** The address exactly as given (spaces and Unicode form kept); `id` is the MD5 of its lower-cased form. */
  email_address: string;
  unique_email_id: string;
  /** The contact's id across audiences (Mailchimp's Contacts API); the member path accepts it too. */
  contact_id: string;
  email_type: 'html' | 'text';
  status: StoredStatus;
  tags: StoredTag[];
  merge_fields: Record<string, unknown>;
  marketing_permissions: StoredPermission[];
  timestamp_signup: string;
  last_changed: string;
  /** When the member last became unsubscribed, for `unsubscribed_since`. */
  unsubscribed_at?: string;
  list_id: string;
  /** Kept beside the member (own endpoints); absent in state saved before they existed. */
  notes?: StoredNote[];
  activity?: StoredActivity[];
}

export interface StoredList {
  id: string;
  name: string;
  date_created: string;
  permission_reminder: string;
  email_type_option: boolean;
  contact: Record<string, unknown>;
  campaign_defaults: Record<string, unknown>;
  marketing_permissions: { marketing_permission_id: string; text: string }[];
  members: Map<string, StoredMember>;
  /** Hashes of permanently deleted members: enough to refuse a re-import, without keeping the address. */
  forgotten: Set<string>;
}

/** Mailchimp writes times as `2024-05-01T09:30:00+00:00`. */
export function mailchimpTime(date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function newListId(): string {
  return randomBytes(5).toString('hex');
}

export class MailchimpSandboxStore implements SandboxStore<MailchimpSeedData> {
  readonly options: z.output<typeof mailchimpSandboxOptionsSchema>;
  lists = new Map<string, StoredList>();
  /** Requests in flight per API key, for the simultaneous-connection limit. */
  readonly inFlight = new Map<string, number>();
  /** Webhooks per audience, and their deliveries (sandbox-webhooks.ts). */
  readonly webhooks = new MailchimpWebhookRegistry();

  constructor(options: MailchimpSandboxOptions) {
    this.options = mailchimpSandboxOptionsSchema.parse(options);
  }

  snapshot() {
    return {
      lists: [...this.lists.values()].map((list) => ({
        id: list.id,
        name: list.name,
        marketing_permissions: list.marketing_permissions,
        members: [...list.members.values()],
        forgotten: [...list.forgotten],
      })),
      webhooks: this.webhooks.snapshot(),
    };
  }

  reset() {
    this.lists.clear();
    this.inFlight.clear();
    this.webhooks.reset();
  }

  seed(data: MailchimpSeedData) {
    for (const seedList of data.lists) {
      const list =
        this.lists.get(seedList.id) ??
        this.addList({
          id: seedList.id,
          name: seedList.name,
          permission_reminder: 'You signed up on our website.',
          email_type_option: false,
          contact: {},
          campaign_defaults: {},
          marketing_permissions: seedList.marketing_permissions,
        });
      for (const seedMember of seedList.members) {
        const member = this.newMember(list, seedMember.email_address, seedMember.status);
        member.merge_fields = seedMember.merge_fields;
        for (const permission of seedMember.marketing_permissions) {
          const held = member.marketing_permissions.find(
            (p) => p.marketing_permission_id === permission.marketing_permission_id,
          );
          if (held) held.enabled = permission.enabled;
        }
        const now = mailchimpTime();
        member.tags = seedMember.tags.map((name, index) => ({ id: index + 1, name, date_added: now }));
        member.notes = seedMember.notes.map((note, index) => ({
          id: index + 1,
          created_at: now,
          updated_at: now,
          created_by: note.created_by,
          note: note.note,
        }));
        member.activity = seedMember.activity.map((event) => ({ created_at_timestamp: now, ...event }));
        if (seedMember.last_changed) member.last_changed = seedMember.last_changed;
        list.members.set(member.id, member);
      }
    }
  }

  addList(fields: Omit<StoredList, 'members' | 'forgotten' | 'date_created'>): StoredList {
    const list: StoredList = {
      ...fields,
      date_created: mailchimpTime(),
      members: new Map(),
      forgotten: new Set(),
    };
    this.lists.set(list.id, list);
    return list;
  }

  /**
   * A member as Mailchimp creates it: every audience permission present, all disabled until set. The address
   * is kept as given: Mailchimp documents only lower-casing for the hash, no trimming or normalising.
   */
  newMember(list: StoredList, email: string, status: MemberStatus): StoredMember {
    const now = mailchimpTime();
    return {
      id: subscriberHash(email),
      email_address: email,
      unique_email_id: randomBytes(5).toString('hex'),
      contact_id: randomBytes(16).toString('hex'),
      email_type: 'html',
      status,
      tags: [],
      merge_fields: {},
      marketing_permissions: list.marketing_permissions.map((p) => ({ ...p, enabled: false })),
      timestamp_signup: now,
      last_changed: now,
      unsubscribed_at: status === 'unsubscribed' ? now : undefined,
      list_id: list.id,
    };
  }
}
