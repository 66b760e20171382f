import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const devSecretsSchema = z.object({
  subjectKeySecret: z.string().min(32),
  encryptionKeys: z.string().min(1),
});
export type DevSecrets = z.infer<typeof devSecretsSchema>;

/**
 * The hub's own secrets for the embedded default, made on the first `consent-hub dev` and kept in the data
 * directory (mode 0600), so that a second run reads the same subject keys and can decrypt the first run's
 * workflow histories.
 */
export function ensureDevSecrets(dataDir: string): DevSecrets {
  const file = join(dataDir, 'secrets.json');
  if (existsSync(file)) return devSecretsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const secrets: DevSecrets = {
    subjectKeySecret: randomBytes(32).toString('hex'),
    encryptionKeys: `dev-${new Date().toISOString().slice(0, 10)}:${randomBytes(32).toString('base64')}`,
  };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  return secrets;
}
