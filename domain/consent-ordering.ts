import type { PurposeDecision } from './consent.js';

/**
 * True when `candidate` must replace `current` for the same purpose: the later `occurredAt` wins, whatever
 * the order of arrival, and on a tie a withdrawal wins over a grant. Pure, so the workflow and the ledger
 * reader apply the very same rule.
 */
export function supersedes(
  candidate: Pick<PurposeDecision, 'decision' | 'occurredAt'>,
  current?: Pick<PurposeDecision, 'decision' | 'occurredAt'>,
): boolean {
  if (!current) return true;
  const a = Date.parse(candidate.occurredAt);
  const b = Date.parse(current.occurredAt);
  if (a !== b) return a > b;
  return candidate.decision === 'withdrawn' && current.decision === 'granted';
}
