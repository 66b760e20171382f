import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The fields of a Google service-account key file that signing a token needs. */
export const serviceAccountKeySchema = z.object({
  type: z.literal('service_account', { error: 'type must be "service_account"' }),
  project_id: z.string().optional(),
  private_key_id: z.string().optional(),
  private_key: z.string({ error: 'private_key is missing' }).includes('PRIVATE KEY', {
    error: 'private_key is not a PEM private key',
  }),
  client_email: z.email({ error: 'client_email is missing or not an address' }),
});
export type ServiceAccountKey = z.infer<typeof serviceAccountKeySchema>;

/**
 * Reads and checks the key file. Errors name the variable and the field, and never quote the file: it
 * holds a private key.
 */
export function readServiceAccountKey(
  path: string,
  variable = 'GOOGLE_APPLICATION_CREDENTIALS',
): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const why = (error as { code?: string }).code ?? 'not valid JSON';
    throw new Error(`${variable}: cannot read the service-account key file at ${path} (${why})`);
  }
  const parsed = serviceAccountKeySchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => issue.message).join('; ');
    throw new Error(`${variable}: ${path} is not a service-account key file: ${problems}`);
  }
  return parsed.data;
}
