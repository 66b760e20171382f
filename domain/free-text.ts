import { z } from 'zod';
import { type ErasureReasonCode, erasureReasonCodes } from './erasure-reason-codes.js';
import { actorIdError, actorIdMaxLength, actorIdPattern } from './operator-id.js';

// Kept in a file of their own, with no imports, so that workflow code can read them too.
export { type ErasureReasonCode, erasureReasonCodes } from './erasure-reason-codes.js';

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
