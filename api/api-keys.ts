import { createHash, timingSafeEqual } from 'node:crypto';

/** How an API key is configured: its SHA-256 hex, so the environment never holds a usable key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Who called, for logs and `requestedBy`: a short prefix of the key's hash, never the key. */
export interface ApiCaller {
  keyId: string;
}

/**
 * Checks `Authorization: Bearer <key>` against the configured hashes. The presented key is hashed first, so
 * every comparison is between two 32-byte digests, done with timingSafeEqual against every configured hash
 * (no early exit): the time taken says nothing about how close a guess was or which key matched.
 */
export function apiKeyVerifier(hashes: readonly string[]) {
  const stored = hashes.map((hash) => Buffer.from(hash, 'hex'));
  return (authorization: string | undefined): ApiCaller | undefined => {
    const match = /^Bearer +([\x21-\x7e]{1,512})$/.exec(authorization ?? '');
    const presented = createHash('sha256')
      .update(match?.[1] ?? '', 'utf8')
      .digest();
    let found: Buffer | undefined;
    for (const candidate of stored) {
      if (timingSafeEqual(candidate, presented)) found = candidate;
    }
    return match && found ? { keyId: found.toString('hex').slice(0, 12) } : undefined;
  };
}

/** Compares two secrets in constant time, whatever their lengths, by comparing their digests. */
export function secretsEqual(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
