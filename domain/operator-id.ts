/**
 * The shape of an operator or system id (`cli:alice`, `api:3f2a9c`, `privacy-inbox#1234`): no spaces and no
 * `@`, so neither a person's name nor an address fits in it. Pure (loads nothing), so the workflows' update
 * validators check the same rule as the zod schema at the API and CLI (free-text.ts `actorIdSchema`).
 */
export const actorIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:#/+=-]*$/;

/** The longest id accepted, in characters. */
export const actorIdMaxLength = 200;

/** Why an id was refused: names the rule, never repeats the value (it may be a person's name or address). */
export const actorIdError =
  'must be an operator or system id (letters, digits and . _ : # / + = -), such as cli:alice or privacy-inbox#1234; not a name or an address';

/** Whether `value` is an operator or system id once trimmed (what `actorIdSchema` accepts). */
export function isActorId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const trimmed = value.trim();
  return trimmed.length >= 1 && trimmed.length <= actorIdMaxLength && actorIdPattern.test(trimmed);
}
