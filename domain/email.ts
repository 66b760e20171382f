import { z } from 'zod';

/**
 * The one normalisation every identifier derives from: trimmed, Unicode NFC, lower-cased. The subject key,
 * Mailchimp's subscriber hash and Google's user-provided data all start from this form, so a person typed
 * as " Ada@Example.COM" and "ada@example.com" is one person everywhere.
 */
export function normaliseEmail(raw: string): string {
  return raw.trim().normalize('NFC').toLowerCase();
}

/** Accepts any case and surrounding whitespace; yields the normalised address. Never echoes the input. */
export const emailSchema = z
  .string({ error: 'email is required' })
  .transform(normaliseEmail)
  .pipe(
    z
      .email({ error: 'not a valid email address' })
      .max(254, { error: 'email is longer than 254 characters' }),
  );
export type Email = z.output<typeof emailSchema>;
