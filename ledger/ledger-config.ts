import { z } from 'zod';

export function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * The ledger's settings from the environment (read with config/parse-env.ts, which names the variable).
 * DATABASE_URL absent or empty means the embedded SQLite file in the data directory. Messages never echo
 * the value: it holds a password.
 */
export const ledgerConfigSchema = z.object({
  DATABASE_URL: z
    .string()
    .optional()
    .refine((value) => value === undefined || value.trim() === '' || isPostgresUrl(value.trim()), {
      error:
        'must be a PostgreSQL URL such as postgres://user:password@host:5432/database (or unset for SQLite)',
    })
    .transform((value) => (value?.trim() ? value.trim() : undefined)),
});
export type LedgerConfig = z.output<typeof ledgerConfigSchema>;
