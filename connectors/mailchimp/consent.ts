import type { ConsentDecision, Purpose } from '../../domain/purposes.js';
import type {
  ConsentFieldCheck,
  ConsentStateInTool,
  DecisionsInForce,
  PurposeOutcome,
} from '../connector.js';
import {
  type ConsentFieldRule,
  type FieldState,
  grantedWithEvidence,
  purposeOutcomeFor,
  sharedFieldState,
} from '../consent-fields.js';
import type { MailchimpPurposeMap, MailchimpPurposeRule } from './config.js';
import type { MailchimpMember } from './member.js';

/** The audiences a purpose touches: membership audiences plus those where it has marketing permissions. */
export function purposeAudiences(rule: MailchimpPurposeRule, configuredAudiences: string[]): string[] {
  const membership = rule.membership ? (rule.audienceIds ?? configuredAudiences) : [];
  return [...new Set([...membership, ...Object.keys(rule.marketingPermissions)])];
}

function inMembershipScope(rule: MailchimpPurposeRule, listId: string, configuredAudiences: string[]) {
  return rule.membership && (rule.audienceIds ?? configuredAudiences).includes(listId);
}

/**
 * What the members say about one purpose. `subscribed` grants and `unsubscribed`/`cleaned` withdraw;
 * `pending`, `transactional` and `archived` say nothing about marketing consent. Each mapped permission
 * adds its own signal. Disagreeing signals are `mixed`; none at all is `unknown`.
 */
export function readPurpose(
  rule: MailchimpPurposeRule,
  members: MailchimpMember[],
  configuredAudiences: string[],
): ConsentStateInTool {
  const signals: ConsentDecision[] = [];
  for (const member of members) {
    if (inMembershipScope(rule, member.list_id, configuredAudiences)) {
      if (member.status === 'subscribed') signals.push('granted');
      if (member.status === 'unsubscribed' || member.status === 'cleaned') signals.push('withdrawn');
    }
    for (const id of rule.marketingPermissions[member.list_id] ?? []) {
      const held = member.marketing_permissions.find((p) => p.marketing_permission_id === id);
      if (held?.enabled !== undefined) signals.push(held.enabled ? 'granted' : 'withdrawn');
    }
  }
  if (signals.length === 0) return 'unknown';
  if (signals.every((s) => s === 'granted')) return 'granted';
  if (signals.every((s) => s === 'withdrawn')) return 'withdrawn';
  return 'mixed';
}

export interface MemberPatch {
  status?: 'subscribed' | 'unsubscribed' | 'pending';
  /** Only on a create: an upsert that never alters a member who appeared meanwhile. */
  status_if_new?: 'pending';
  marketing_permissions?: { marketing_permission_id: string; enabled: boolean }[];
}

export interface PlannedChange {
  listId: string;
  /** PATCH an existing member, or PUT a new one (only for a grant with evidence). */
  action: 'patch' | 'create';
  body: MemberPatch;
  /** The grant waits for the person's double opt-in. */
  pending: boolean;
  /** Permission ids the rule names but the audience does not have (a configuration mistake). */
  unknownPermissionIds: string[];
}

/**
 * Decides, per audience, what one consent change does to one person's membership. Withdrawals only ever
 * change existing members. A grant moves an unsubscribed member to `pending` (Mailchimp refuses a direct
 * return to `subscribed`), leaves a pending member alone (so a repeated grant never loops on a 400), and
 * creates a pending member only when the grant comes with evidence.
 */
export function planConsentChange(
  rule: MailchimpPurposeRule,
  decision: ConsentDecision,
  hasEvidence: boolean,
  members: MailchimpMember[],
  configuredAudiences: string[],
): { plans: PlannedChange[]; pendingWithoutChange: boolean } {
  const plans: PlannedChange[] = [];
  let pendingWithoutChange = false;
  const enable = decision === 'granted';

  for (const listId of purposeAudiences(rule, configuredAudiences)) {
    const member = members.find((m) => m.list_id === listId && m.status !== 'archived');
    const membership = inMembershipScope(rule, listId, configuredAudiences);
    const permissionIds = rule.marketingPermissions[listId] ?? [];

    if (!member) {
      if (enable && hasEvidence && membership) {
        plans.push({
          listId,
          action: 'create',
          body: {
            status_if_new: 'pending',
            marketing_permissions: permissionIds.map((id) => ({
              marketing_permission_id: id,
              enabled: true,
            })),
          },
          pending: true,
          unknownPermissionIds: [],
        });
      }
      continue;
    }

    const body: MemberPatch = {};
    let pending = false;
    if (membership) {
      if (enable) {
        if (member.status === 'unsubscribed' || member.status === 'cleaned') {
          body.status = 'pending';
          pending = true;
        } else if (member.status === 'transactional') {
          body.status = 'subscribed';
        } else if (member.status === 'pending') {
          pendingWithoutChange = true;
        }
      } else if (member.status === 'subscribed' || member.status === 'pending') {
        body.status = 'unsubscribed';
      }
    }
    const unknownPermissionIds: string[] = [];
    const permissionChanges: NonNullable<MemberPatch['marketing_permissions']> = [];
    for (const id of permissionIds) {
      const held = member.marketing_permissions.find((p) => p.marketing_permission_id === id);
      if (!held) unknownPermissionIds.push(id);
      else if (held.enabled !== enable)
        permissionChanges.push({ marketing_permission_id: id, enabled: enable });
    }
    if (permissionChanges.length > 0) body.marketing_permissions = permissionChanges;
    if (body.status || body.marketing_permissions || unknownPermissionIds.length > 0) {
      plans.push({ listId, action: 'patch', body, pending, unknownPermissionIds });
    }
  }
  return { plans, pendingWithoutChange };
}

/** The audiences each purpose's membership covers, and the marketing permissions mapped per audience. */
export interface MailchimpConsentFields {
  /** Per audience, the purposes whose decision its membership carries. */
  membership: { listId: string; purposes: Purpose[] }[];
  /** Per audience and permission id, the purposes whose decision the permission carries. */
  permissions: { listId: string; permissionId: string; purposes: Purpose[] }[];
}

export function mailchimpConsentFields(
  map: MailchimpPurposeMap,
  configuredAudiences: string[],
): MailchimpConsentFields {
  const rules = Object.entries(map) as [Purpose, MailchimpPurposeRule][];
  const membership = new Map<string, Purpose[]>();
  const permissions = new Map<string, { listId: string; permissionId: string; purposes: Purpose[] }>();
  for (const [purpose, rule] of rules) {
    if (rule.membership) {
      for (const listId of rule.audienceIds ?? configuredAudiences) {
        membership.set(listId, [...(membership.get(listId) ?? []), purpose]);
      }
    }
    for (const [listId, ids] of Object.entries(rule.marketingPermissions)) {
      for (const permissionId of ids) {
        const key = `${listId}\u0000${permissionId}`;
        const entry = permissions.get(key) ?? { listId, permissionId, purposes: [] };
        entry.purposes.push(purpose);
        permissions.set(key, entry);
      }
    }
  }
  return {
    membership: [...membership].map(([listId, purposes]) => ({ listId, purposes })),
    permissions: [...permissions.values()],
  };
}

/**
 * The one rule for an unsubscribe seen in Mailchimp (its webhook, or a reconciliation run reading members):
 * it withdraws exactly the purposes the purpose map maps to membership in that audience, nothing the
 * audience does not carry (phone, postal mail). Without an audience id, every purpose any membership carries.
 * A cleaned (bounced) address is no consent decision and withdraws nothing (see `membershipState`).
 */
export function purposesUnsubscribedIn(
  map: MailchimpPurposeMap,
  listId: string | undefined,
  configuredAudiences: string[],
): Purpose[] {
  const { membership } = mailchimpConsentFields(
    map,
    listId ? [listId, ...configuredAudiences] : configuredAudiences,
  );
  if (listId) return membership.find((m) => m.listId === listId)?.purposes ?? [];
  return [...new Set(membership.flatMap((m) => m.purposes))];
}

/** The fields as `consent-hub config check` prints them; "every configured audience" stands for the rest. */
export function mailchimpFieldRules(map: MailchimpPurposeMap): ConsentFieldRule[] {
  const every = '*';
  const fields = mailchimpConsentFields(map, [every]);
  const named = new Set(
    (Object.values(map) as MailchimpPurposeRule[]).flatMap((rule) => rule.audienceIds ?? []),
  );
  const everywhere = fields.membership.find((m) => m.listId === every)?.purposes ?? [];
  const membership: ConsentFieldRule[] = [
    ...(everywhere.length > 0
      ? [
          {
            system: 'mailchimp' as const,
            field: 'membership (every configured audience)',
            purposes: everywhere,
            rule: 'unsubscribed when any of them is withdrawn; subscribed (through pending after an unsubscribe) only with a grant with evidence and none withdrawn',
          },
        ]
      : []),
    ...[...named].map((listId) => ({
      system: 'mailchimp' as const,
      field: `membership:${listId}`,
      purposes: [...everywhere, ...(fields.membership.find((m) => m.listId === listId)?.purposes ?? [])],
      rule: 'unsubscribed when any of them is withdrawn; subscribed (through pending) only with a grant with evidence and none withdrawn',
    })),
  ];
  return [
    ...membership,
    ...fields.permissions.map((p) => ({
      system: 'mailchimp' as const,
      field: `permission:${p.listId}:${p.permissionId}`,
      purposes: p.purposes,
      rule: 'GDPR marketing permission disabled when any of them is withdrawn, enabled once one is granted',
    })),
  ];
}

export interface StatePlan {
  plans: PlannedChange[];
  /** Field name → value after the planned writes. */
  fields: Record<string, string>;
  purposes: Partial<Record<Purpose, PurposeOutcome>>;
  outcome: 'applied' | 'already' | 'not_found' | 'pending_confirmation' | 'not_applicable';
}

/**
 * Decides, per audience, what the decisions in force do to one person's membership and permissions.
 * Membership is unsubscribed while any purpose mapped to it is withdrawn, and becomes subscribed only when
 * none is withdrawn and one is granted with evidence: through `pending` after an unsubscribe (Mailchimp
 * refuses a direct return to `subscribed`), and as a new pending member only then. Undecided fields are
 * left as the tool has them. Withdrawals never create members.
 */
export function planConsentState(
  map: MailchimpPurposeMap,
  decisions: DecisionsInForce,
  members: MailchimpMember[],
  configuredAudiences: string[],
): StatePlan {
  const { membership, permissions } = mailchimpConsentFields(map, configuredAudiences);
  const audiences = [...new Set([...membership.map((m) => m.listId), ...permissions.map((p) => p.listId)])];
  const plans: PlannedChange[] = [];
  const fields: Record<string, string> = {};
  /** Per field: its state, whether the write changes it, whether it ends pending, and a member is there. */
  const fieldInfo = new Map<
    string,
    { state: FieldState; changed: boolean; pending: boolean; found: boolean }
  >();

  for (const listId of audiences) {
    const member = members.find((m) => m.list_id === listId && m.status !== 'archived');
    const mPurposes = membership.find((m) => m.listId === listId)?.purposes ?? [];
    const mState = mPurposes.length > 0 ? sharedFieldState(mPurposes, decisions) : 'undecided';
    const perms = permissions
      .filter((p) => p.listId === listId)
      .map((p) => ({ ...p, state: sharedFieldState(p.purposes, decisions) }));
    const membershipField = `membership:${listId}`;

    if (!member) {
      const create = mState === 'granted' && grantedWithEvidence(mPurposes, decisions);
      if (create) {
        plans.push({
          listId,
          action: 'create',
          body: {
            status_if_new: 'pending',
            marketing_permissions: perms
              .filter((p) => p.state !== 'undecided')
              .map((p) => ({ marketing_permission_id: p.permissionId, enabled: p.state === 'granted' })),
          },
          pending: true,
          unknownPermissionIds: [],
        });
        fields[membershipField] = 'pending';
      }
      if (mPurposes.length > 0)
        fieldInfo.set(membershipField, { state: mState, changed: create, pending: create, found: create });
      for (const p of perms)
        fieldInfo.set(`permission:${listId}:${p.permissionId}`, {
          state: p.state,
          changed: false,
          pending: false,
          found: false,
        });
      continue;
    }

    const body: MemberPatch = {};
    let pending = false;
    if (mState === 'withdrawn' && (member.status === 'subscribed' || member.status === 'pending')) {
      body.status = 'unsubscribed';
    } else if (mState === 'granted' && grantedWithEvidence(mPurposes, decisions)) {
      if (member.status === 'unsubscribed' || member.status === 'cleaned') {
        body.status = 'pending';
        pending = true;
      } else if (member.status === 'transactional') {
        body.status = 'subscribed';
      } else if (member.status === 'pending') {
        pending = true;
      }
    }
    if (mPurposes.length > 0) {
      fields[membershipField] = body.status ?? member.status;
      fieldInfo.set(membershipField, {
        state: mState,
        changed: body.status !== undefined,
        pending,
        found: true,
      });
    }
    const unknownPermissionIds: string[] = [];
    const permissionChanges: NonNullable<MemberPatch['marketing_permissions']> = [];
    for (const p of perms) {
      const field = `permission:${listId}:${p.permissionId}`;
      const held = member.marketing_permissions.find((h) => h.marketing_permission_id === p.permissionId);
      if (!held) unknownPermissionIds.push(p.permissionId);
      const enable = p.state === 'granted';
      const changes = Boolean(held) && p.state !== 'undecided' && held?.enabled !== enable;
      if (changes) permissionChanges.push({ marketing_permission_id: p.permissionId, enabled: enable });
      const now = changes ? enable : held?.enabled;
      if (now !== undefined) fields[field] = now ? 'enabled' : 'disabled';
      fieldInfo.set(field, { state: p.state, changed: changes, pending: false, found: Boolean(held) });
    }
    if (permissionChanges.length > 0) body.marketing_permissions = permissionChanges;
    if (body.status || body.marketing_permissions || unknownPermissionIds.length > 0) {
      plans.push({
        listId,
        action: 'patch',
        body,
        pending: pending && body.status === 'pending',
        unknownPermissionIds,
      });
    }
  }

  const purposes: StatePlan['purposes'] = {};
  for (const purpose of Object.keys(decisions) as Purpose[]) {
    const mine = [
      ...membership.filter((m) => m.purposes.includes(purpose)).map((m) => `membership:${m.listId}`),
      ...permissions
        .filter((p) => p.purposes.includes(purpose))
        .map((p) => `permission:${p.listId}:${p.permissionId}`),
    ].flatMap((field) => {
      const info = fieldInfo.get(field);
      return info ? [info] : [];
    });
    const outcome = purposeOutcomeFor(
      purpose,
      decisions,
      mine.map((i) => i.state),
      mine.some((i) => i.changed),
      mine.some((i) => i.found),
    );
    const waiting = decisions[purpose]?.decision === 'granted' && mine.some((i) => i.pending);
    purposes[purpose] = waiting && outcome !== 'withheld' ? 'pending_confirmation' : outcome;
  }
  const all = [...fieldInfo.values()];
  const outcome: StatePlan['outcome'] =
    all.length === 0
      ? 'not_applicable'
      : all.some((i) => i.pending && i.state === 'granted')
        ? 'pending_confirmation'
        : all.some((i) => i.changed)
          ? 'applied'
          : members.some((m) => m.status !== 'archived')
            ? 'already'
            : 'not_found';
  return { plans, fields, purposes, outcome };
}

/**
 * Compares the members as they are now with what the decisions in force call for. Membership: withdrawn
 * calls for not subscribed (unsubscribed, cleaned or no member); granted accepts subscribed or pending.
 */
export function verifyMembers(
  map: MailchimpPurposeMap,
  decisions: DecisionsInForce,
  members: MailchimpMember[],
  configuredAudiences: string[],
): ConsentFieldCheck[] {
  const { membership, permissions } = mailchimpConsentFields(map, configuredAudiences);
  const memberIn = (listId: string) => members.find((m) => m.list_id === listId && m.status !== 'archived');
  return [
    ...membership.map(({ listId, purposes }) => {
      const state = sharedFieldState(purposes, decisions);
      const actual = memberIn(listId)?.status ?? 'absent';
      const desired = state === 'withdrawn' ? 'unsubscribed' : state === 'granted' ? 'subscribed' : undefined;
      const differs =
        (state === 'withdrawn' && (actual === 'subscribed' || actual === 'pending')) ||
        (state === 'granted' &&
          grantedWithEvidence(purposes, decisions) &&
          (actual === 'unsubscribed' || actual === 'cleaned'));
      return { field: `membership:${listId}`, purposes, ...(desired ? { desired } : {}), actual, differs };
    }),
    ...permissions.map(({ listId, permissionId, purposes }) => {
      const state = sharedFieldState(purposes, decisions);
      const held = memberIn(listId)?.marketing_permissions.find(
        (h) => h.marketing_permission_id === permissionId,
      );
      const actual = held?.enabled === undefined ? 'absent' : held.enabled ? 'enabled' : 'disabled';
      const desired = state === 'withdrawn' ? 'disabled' : state === 'granted' ? 'enabled' : undefined;
      return {
        field: `permission:${listId}:${permissionId}`,
        purposes,
        ...(desired ? { desired } : {}),
        actual,
        differs: desired !== undefined && actual !== 'absent' && actual !== desired,
      };
    }),
  ];
}
