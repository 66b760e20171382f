import type { ConsentDecision } from '../../domain/purposes.js';
import type { ConsentStateInTool } from '../connector.js';
import type { MailchimpPurposeRule } from './config.js';
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
