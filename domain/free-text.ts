import { z } from 'zod';
import { actorIdError, actorIdMaxLength, actorIdPattern } from './operator-id.js';

/**
 * Why a person is erased: a fixed set of codes (GDPR Art. 17(1) grounds, plus the hub's own re-erasure), so
 * that no free text lands in receipts. Anything more goes in the note, which is scrubbed before it is kept.
 */
export const erasureReasonCodes = [
  /** The person asked (the default). */
  'subject_request',
  /** Art. 17(1)(a): the data is no longer needed for its purpose. */
  'no_longer_necessary',
  /** Art. 17(1)(b): the person withdrew the consent the processing rested on. */
  'consent_withdrawn',
  /** Art. 17(1)(c): the person objected to the processing. */
  'objection',
  /** Art. 17(1)(d): the data was processed unlawfully. */
  'unlawful_processing',
  /** Art. 17(1)(e): a legal obligation requires erasure. */
  'legal_obligation',
  /** Art. 17(1)(f): data collected from a child for an online service. */
  'child_data',
  /** Reconciliation found an erased person again in a tool. */
  'reappeared_after_erasure',
  /** None of the above; say why in the note. */
  'other',
] as const;
export type ErasureReasonCode = (typeof erasureReasonCodes)[number];

/** The default reason text of earlier versions, which meant what `subject_request` means now. */
const legacyDefaultReason = 'data subject erasure request';

/**
 * The reason as given (a code, or free text from an older client) and the optional note, as they are kept:
 * a code, and the note with any free-text reason folded into it. Free text never becomes a code by guess.
 */
export function structuredReason(
  reason: string | undefined,
  note: string | undefined,
): { reason: ErasureReasonCode; reasonNote?: string } {
  const given = reason?.trim() ?? '';
  const code = erasureReasonCodes.find((candidate) => candidate === given.toLowerCase());
  if (code || given === '' || given.toLowerCase() === legacyDefaultReason)
    return { reason: code ?? 'subject_request', ...(note ? { reasonNote: note } : {}) };
  return { reason: 'other', reasonNote: note ? `${given} — ${note}` : given };
}

const identifierCharacters = actorIdPattern;

/**
 * An operator or system id (`cli:alice`, `api:3f2a9c`, `privacy-inbox#1234`, `reconciliation:<run>`): no
 * spaces and no `@`, so neither a person's name nor an address fits in it.
 */
export const actorIdSchema = z
  .string()
  .trim()
  .min(1)
  .max(actorIdMaxLength)
  .regex(identifierCharacters, { error: actorIdError });

/** A reference (policy version, form id, ticket or delivery id, channel): an identifier, not prose. */
export const referenceSchema = (max: number) =>
  z.string().trim().min(1).max(max).regex(identifierCharacters, {
    error: 'must be an identifier (letters, digits and . _ : # / + = -), not free text or an address',
  });

/** Free text a person typed. Kept only after the subject's data and every address are scrubbed from it. */
export const noteSchema = z.string().trim().min(1).max(1000);
