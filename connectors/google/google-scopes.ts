/** OAuth scopes the two Google APIs require (each API checks its own). */
export const userDeletionScope = 'https://www.googleapis.com/auth/analytics.user.deletion';
export const analyticsEditScope = 'https://www.googleapis.com/auth/analytics.edit';
/** Reading a property's settings (its data retention, for access requests). */
export const analyticsReadonlyScope = 'https://www.googleapis.com/auth/analytics.readonly';

/**
 * The token endpoint google-auth-library (through gtoken) posts to and puts in the JWT's `aud` claim. It is a
 * constant there: the key file's `token_uri` is not read.
 */
export const googleTokenUrl = 'https://oauth2.googleapis.com/token';
