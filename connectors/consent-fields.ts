import type { Purpose } from '../domain/purposes.js';
import type { SystemName } from '../domain/systems.js';
import type { DecisionsInForce, PurposeOutcome } from './connector.js';

/**
 * What a vendor field should say, from the decisions of every purpose mapped to it:
 * - `withdrawn` as soon as one of them is withdrawn (a withdrawal wins, whatever the order of changes);
 * - `granted` when none is withdrawn and at least one is granted (a purpose with no decision yet counts as
 *   not withdrawn: the privacy notice markets on legitimate interest until the person objects);
 * - `undecided` when none has a decision: the hub leaves the field as the tool has it.
 */
export type FieldState = 'withdrawn' | 'granted' | 'undecided';

export function sharedFieldState(purposes: readonly Purpose[], decisions: DecisionsInForce): FieldState {
  const mapped = purposes.map((purpose) => decisions[purpose]?.decision);
  if (mapped.includes('withdrawn')) return 'withdrawn';
  if (mapped.includes('granted')) return 'granted';
  return 'undecided';
}

/** True when a purpose mapped to the field is granted with evidence: what re-subscribing or creating needs. */
export function grantedWithEvidence(purposes: readonly Purpose[], decisions: DecisionsInForce): boolean {
  return purposes.some((purpose) => {
    const decision = decisions[purpose];
    return decision?.decision === 'granted' && decision.hasEvidence;
  });
}

/** One vendor field and the purposes that decide it, for `consent-hub config check` and the tests. */
export interface ConsentFieldRule {
  system: SystemName;
  field: string;
  purposes: Purpose[];
  /** In words: what the field holds when withdrawn and when allowed. */
  rule: string;
}

/**
 * What one purpose's decision looks like in a tool, given the states of the fields it maps to and whether
 * the write changed any of them. A grant whose field stays withdrawn because another purpose is withdrawn
 * is `withheld`, so status never claims a grant reached a tool that still says no.
 */
export function purposeOutcomeFor(
  purpose: Purpose,
  decisions: DecisionsInForce,
  fieldStates: FieldState[],
  changed: boolean,
  found: boolean,
): PurposeOutcome {
  if (fieldStates.length === 0) return 'not_applicable';
  if (!found) return 'not_found';
  if (decisions[purpose]?.decision === 'granted' && fieldStates.includes('withdrawn')) return 'withheld';
  return changed ? 'applied' : 'already';
}
