import { z } from 'zod';

/**
 * What Google documents and the sandbox must match, written from Google's pages rather than taken from the
 * connector (an emulator that shares the client's constants can only agree with it).
 * Scopes: https://developers.google.com/analytics/devguides/config/userdeletion/v3/reference/userDeletion/userDeletionRequest/upsert
 * and https://developers.google.com/analytics/devguides/config/admin/v1/rest/v1alpha/properties/submitUserDeletion
 */
export const userDeletionScope = 'https://www.googleapis.com/auth/analytics.user.deletion';
export const analyticsEditScope = 'https://www.googleapis.com/auth/analytics.edit';
/** Reading a property's settings (Admin API get methods) needs this scope or the edit scope. */
export const analyticsReadonlyScope = 'https://www.googleapis.com/auth/analytics.readonly';

/** Google's OAuth 2.0 token endpoint for service accounts (https://developers.google.com/identity/protocols/oauth2/service-account). */
export const googleTokenUrl = 'https://oauth2.googleapis.com/token';

/**
 * Google resets Analytics daily quotas at midnight Pacific time
 * (https://developers.google.com/analytics/devguides/config/mgmt/v3/limits-quotas). The day key is the
 * Pacific calendar date, `YYYY-MM-DD`, daylight saving included.
 */
const pacificDate = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'America/Los_Angeles',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});
export function pacificDay(at: number): string {
  return pacificDate.format(new Date(at));
}

/** A GA4 property as Google writes it: `properties/123` (Admin API resource name) or the bare number. */
export function propertyNumber(raw: string): string | undefined {
  return /^(?:properties\/)?(\d+)$/.exec(raw.trim())?.[1];
}

export const propertyNumberSchema = z.string().transform((raw, context) => {
  const id = propertyNumber(raw);
  if (id === undefined) {
    context.addIssue({
      code: 'custom',
      message: 'not a GA4 property id (properties/123456789 or 123456789)',
    });
    return z.NEVER;
  }
  return id;
});
