/**
 * The ledger could not be opened: a DATABASE_URL that is not a PostgreSQL URL, a database that does not
 * answer, refused credentials, a data directory that cannot be written, or a failed migration. Thrown at
 * start so the worker never runs without its evidence store. The message never holds the password.
 */
export class LedgerUnavailable extends Error {
  override readonly name = 'LedgerUnavailable';
}

/**
 * A database URL fit to print: scheme, user, host, port and database, never the password or query
 * parameters (which can hold one too). Unparseable text is not echoed at all, since it may be a secret.
 */
export function describeDatabaseUrl(databaseUrl: string): string {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return 'an unparseable URL';
  }
  const user = url.username ? `${decodeURIComponent(url.username)}@` : '';
  const port = url.port ? `:${url.port}` : '';
  return `${url.protocol}//${user}${url.hostname}${port}${url.pathname}`;
}

/** Removes a password from free text such as a driver's error message, raw and URL-decoded. */
export function withoutPassword(text: string, databaseUrl: string | undefined): string {
  if (!databaseUrl) return text;
  let password = '';
  try {
    password = new URL(databaseUrl).password;
  } catch {
    // Unparseable: the driver never got as far as using it.
    return text;
  }
  if (!password) return text;
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // Keep the raw form only.
  }
  return [password, decoded].reduce((scrubbed, secret) => scrubbed.split(secret).join('***'), text);
}
