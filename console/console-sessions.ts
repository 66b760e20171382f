import { randomBytes } from 'node:crypto';

/** A signed-in operator: the API key's name (never the key), and when the session ends. */
export interface ConsoleSession {
  id: string;
  /** The API key's name (`keyId`), recorded as the operator of every action taken in this session. */
  keyId: string;
  expiresAt: number;
}

/**
 * Console sessions, held in the API process's memory: a sign-out or a restart ends them at once (nothing to
 * revoke elsewhere), and the cookie holds only a random id (32 bytes), never the API key. Sessions end after
 * `ttlMs` whatever the activity, so a forgotten browser does not stay signed in.
 */
export function consoleSessionStore(ttlMs: number, now: () => number = Date.now) {
  const sessions = new Map<string, ConsoleSession>();
  return {
    create(keyId: string): ConsoleSession {
      // Expired sessions are dropped whenever a new one starts, so the map stays as small as the team.
      for (const [id, session] of sessions) if (session.expiresAt <= now()) sessions.delete(id);
      const session = { id: randomBytes(32).toString('base64url'), keyId, expiresAt: now() + ttlMs };
      sessions.set(session.id, session);
      return session;
    },
    get(id: string | undefined): ConsoleSession | undefined {
      if (!id) return undefined;
      const session = sessions.get(id);
      if (!session) return undefined;
      if (session.expiresAt <= now()) {
        sessions.delete(id);
        return undefined;
      }
      return session;
    },
    destroy(id: string | undefined): void {
      if (id) sessions.delete(id);
    },
  };
}
export type ConsoleSessionStore = ReturnType<typeof consoleSessionStore>;
