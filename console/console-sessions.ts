import { createHash, randomBytes } from 'node:crypto';
import type { Ledger } from '../ledger/ledger.js';

/** A signed-in operator: the API key's name (never the key), and when the session ends. */
export interface ConsoleSession {
  /** The cookie's value: a random token the server keeps only as a hash. */
  id: string;
  /** The API key's name (`keyId`), recorded as the operator of every action taken in this session. */
  keyId: string;
  expiresAt: number;
}

/** The token's SHA-256: a 32-byte random token needs no slow hash, and the ledger never holds the token. */
const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
const tokenPattern = /^[A-Za-z0-9_-]{43}$/;

/**
 * Console sessions, kept in the ledger (table console_sessions) so that a restart of the API process, or a
 * second API process behind a load balancer, keeps everyone signed in. The cookie holds a random token
 * (32 bytes), the ledger only its SHA-256, the API key's name and the end: a copy of the table signs nobody
 * in. Sessions end after `ttlMs` whatever the activity, so a forgotten browser does not stay signed in;
 * sign-out deletes the row, so a copied cookie stops working at once.
 */
export function consoleSessionStore(
  ledger: Pick<Ledger, 'createConsoleSession' | 'getConsoleSession' | 'deleteConsoleSession'>,
  ttlMs: number,
  now: () => number = Date.now,
) {
  return {
    async create(keyId: string): Promise<ConsoleSession> {
      const id = randomBytes(32).toString('base64url');
      const createdAt = now();
      const session = { id, keyId, expiresAt: createdAt + ttlMs };
      await ledger.createConsoleSession({
        tokenHash: tokenHash(id),
        keyId,
        createdAt: new Date(createdAt).toISOString(),
        expiresAt: new Date(session.expiresAt).toISOString(),
      });
      return session;
    },
    async get(id: string | undefined): Promise<ConsoleSession | undefined> {
      // Anything but a token of ours is not looked up at all.
      if (!id || !tokenPattern.test(id)) return undefined;
      const row = await ledger.getConsoleSession(tokenHash(id), new Date(now()).toISOString());
      return row ? { id, keyId: row.keyId, expiresAt: Date.parse(row.expiresAt) } : undefined;
    },
    async destroy(id: string | undefined): Promise<void> {
      if (id && tokenPattern.test(id)) await ledger.deleteConsoleSession(tokenHash(id));
    },
  };
}
export type ConsoleSessionStore = ReturnType<typeof consoleSessionStore>;
