import { createHash } from 'node:crypto';

/** A syntactically real key for the sandbox's data centre. */
export const testApiKey = '0123456789abcdef0123456789abcdef-us21';

export function basicAuth(key: string): string {
  return `Basic ${Buffer.from(`anyuser:${key}`).toString('base64')}`;
}

/** A plain HTTPS call to the sandbox, the way `curl -u anyuser:<key>` would make it. */
export async function raw(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  key: string = testApiKey,
): Promise<{ status: number; contentType: string | null; json: unknown }> {
  const response = await fetch(`${baseUrl}/3.0${path}`, {
    method,
    headers: {
      authorization: basicAuth(key),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    json: text ? JSON.parse(text) : undefined,
  };
}

/** The minimum Mailchimp requires to create an audience. */
export function newAudience(name: string) {
  return {
    name,
    permission_reminder: 'You signed up on our website.',
    email_type_option: false,
    contact: { company: 'Phoniro', address1: 'Box 1', city: 'Halmstad', country: 'SE', zip: '30000' },
    campaign_defaults: { from_name: 'Phoniro', from_email: 'news@example.com', subject: '', language: 'en' },
  };
}

export { capturingLogger } from '../../support/capturing-logger.js';

/**
 * The subscriber hash exactly as Mailchimp documents it, "the MD5 hash of the lowercase version of the list
 * member's email address" (https://mailchimp.com/developer/marketing/docs/methods-parameters/#path-parameters):
 * what sandbox tests use, so the sandbox is judged by the documentation rather than by the connector's hash.
 */
export function documentedSubscriberHash(address: string): string {
  return createHash('md5').update(address.toLowerCase()).digest('hex');
}
