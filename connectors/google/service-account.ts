import { generateKeyPairSync, randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { googleTokenUrl } from './google-scopes.js';

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

/**
 * A new service account's key file, in the exact shape Google's console downloads, with a fresh RSA key.
 * `token_uri` is Google's: google-auth-library ignores the field and always uses its own constant.
 */
export function makeServiceAccountKeyFile(projectId: string, accountName: string) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const clientEmail = `${accountName}@${projectId}.iam.gserviceaccount.com`;
  const keyFile = {
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKey,
    client_email: clientEmail,
    client_id: String(randomInt(1e9, 1e10 - 1)) + String(randomInt(1e9, 1e10 - 1)) + String(randomInt(1, 9)),
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: googleTokenUrl,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
    universe_domain: 'googleapis.com',
  };
  return { keyFile, publicKeyPem: publicKey };
}
