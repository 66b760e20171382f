import { createHash, timingSafeEqual } from 'node:crypto';

/** How an API key is configured: its SHA-256 hex, so the environment never holds a usable key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * What a key may do: `intake` starts erasures and consent changes; `status` reads an erasure's receipt or
 * status and a person's consent status (so a key without it cannot learn whether an address was erased);
 * `operator` retries and closes systems, and decodes payloads at the codec server.
 */
export const apiScopes = ['intake', 'status', 'operator'] as const;
export type ApiScope = (typeof apiScopes)[number];

/** Who called, for logs and `requestedBy`: a short prefix of the key's hash, never the key; and its scopes. */
export interface ApiCaller {
  keyId: string;
  scopes: ReadonlySet<ApiScope>;
}

/**
 * One CONSENT_HUB_API_KEYS entry: `<sha256 hex>` (every scope, as keys were before scopes existed) or
 * `<sha256 hex>:<scope>+<scope>`, such as `9f86…:intake` for a web form that must only submit.
 */
export function parseApiKeyEntry(entry: string): { hash: string; scopes: ReadonlySet<ApiScope> } {
  const [hash = '', scopes] = entry.split(':');
  return {
    hash,
    scopes: new Set(scopes ? (scopes.split('+') as ApiScope[]) : apiScopes),
  };
}

/**
 * Checks `Authorization: Bearer <key>` against the configured hashes. The presented key is hashed first, so
 * every comparison is between two 32-byte digests, done with timingSafeEqual against every configured hash
 * (no early exit): the time taken says nothing about how close a guess was or which key matched.
 */
export function apiKeyVerifier(entries: readonly string[]) {
  const parsed = entries.map(parseApiKeyEntry);
  const stored = parsed.map(({ hash }) => Buffer.from(hash, 'hex'));
  return (authorization: string | undefined): ApiCaller | undefined => {
    const match = /^Bearer +([\x21-\x7e]{1,512})$/.exec(authorization ?? '');
    const presented = createHash('sha256')
      .update(match?.[1] ?? '', 'utf8')
      .digest();
    let found: number | undefined;
    stored.forEach((candidate, index) => {
      if (timingSafeEqual(candidate, presented)) found = index;
    });
    const entry = found === undefined ? undefined : parsed[found];
    return match && entry ? { keyId: entry.hash.slice(0, 12), scopes: entry.scopes } : undefined;
  };
}

/** Compares two secrets in constant time, whatever their lengths, by comparing their digests. */
export function secretsEqual(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
